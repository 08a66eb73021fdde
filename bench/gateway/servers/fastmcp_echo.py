"""Benchmark server, the kind most Python MCP servers are: FastMCP (the official Python SDK) over stdio, with the
same `echo` tool as server-everything. Log level WARNING: FastMCP's default INFO writes a line to stderr per call,
which every target would pay alike but which is not the bridge's cost being measured."""

from mcp.server.fastmcp import FastMCP

mcp = FastMCP("bench-fastmcp-echo", log_level="WARNING")


@mcp.tool()
def echo(message: str) -> str:
    """Echoes back the input."""
    return f"Echo: {message}"


if __name__ == "__main__":
    mcp.run()
