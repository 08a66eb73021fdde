/** Defaults shared by the CLI verbs. */
export const VERSION = '0.1.0';
/** Our image: the controller, and the gateway that the controller puts into every McpServer pod. */
export const DEFAULT_GATEWAY_IMAGE = `ghcr.io/mcp-operator/mcp-operator:${VERSION}`;
/** A command a person waits on fails this soon when the API server does not answer (kubectl's TLS handshake bound). */
export const CLI_ANSWER_TIMEOUT_MS = 10_000;
/** The namespace a Helm install of the chart uses in the docs; where `render` assumes the controller runs. */
export const DEFAULT_OPERATOR_NAMESPACE = 'mcp-operator-system';
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A namespace name: a DNS-1123 label. */
export const isNamespace = (n: string) => n.length <= 63 && NAMESPACE.test(n);
