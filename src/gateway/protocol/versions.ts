/** MCP protocol revisions and the facts that differ between eras (which the mux and the HTTP layers consult). */

/** Protocol revisions the gateway serves over the session-based (2025 and older) transports. */
export const SESSION_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export const LATEST_SESSION_PROTOCOL_VERSION = '2025-11-25';
/** The stateless revision: no initialize, no session, no server-to-client request channel. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

export function isSessionProtocolVersion(version: unknown): version is (typeof SESSION_PROTOCOL_VERSIONS)[number] {
  return typeof version === 'string' && (SESSION_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}
