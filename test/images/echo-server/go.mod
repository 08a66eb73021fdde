module mcpoperator.io/echo-server

go 1.24
