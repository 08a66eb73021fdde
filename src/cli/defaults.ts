/** Defaults shared by the CLI verbs. */
export const VERSION = '0.1.0';
/** Our image: the controller, and the gateway that the controller puts into every McpServer pod. */
export const DEFAULT_GATEWAY_IMAGE = `ghcr.io/mcp-operator/mcp-operator:${VERSION}`;
