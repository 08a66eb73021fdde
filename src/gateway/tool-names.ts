/**
 * Which tool names a gateway knows. Declared: what the server listed (the gateway reads its tools/list at every
 * start and after list_changed, and every list a client fetches goes by). Well-formed: the MCP specification's
 * format (2025-11-25, "Tool names": 1 to 128 characters of A-Z a-z 0-9 _ - and .; a SHOULD, so a server's own
 * names outside it are still honoured). Metric labels take only declared names, so clients cannot crowd them
 * out; a tools/call naming neither kind is refused before it reaches the server.
 */
export const MAX_TOOL_NAME_LENGTH = 128;
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Declared names kept (each a metric label value at most); a server listing more is not labeled past it. */
export const MAX_DECLARED_TOOLS = 1000;
/** A declared name longer than this is not kept (it could not be a label anyway). */
const MAX_DECLARED_NAME = 1024;

export function wellFormedToolName(name: string): boolean {
  return name.length <= MAX_TOOL_NAME_LENGTH && TOOL_NAME.test(name);
}

export class DeclaredTools {
  private readonly names = new Set<string>();

  /** The names in a tools/list result (`{ tools: [{ name }] }`); anything else in it is ignored. */
  declareList(result: unknown): void {
    const tools = typeof result === 'object' && result !== null ? (result as { tools?: unknown }).tools : undefined;
    if (!Array.isArray(tools)) return;
    for (const tool of tools) {
      const name = typeof tool === 'object' && tool !== null ? (tool as { name?: unknown }).name : undefined;
      if (typeof name !== 'string' || name.length > MAX_DECLARED_NAME || this.names.has(name)) continue;
      if (this.names.size >= MAX_DECLARED_TOOLS) return;
      this.names.add(name);
    }
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Whether a tools/call may name this tool: declared by the server, or well-formed. */
  accepts(name: string): boolean {
    return this.names.has(name) || wellFormedToolName(name);
  }
}

/** The refusal of a tools/call naming no tool of this server in a form no server should use. */
export function toolNameProblem(name: string): string {
  const shown = name.length > 64 ? `a name of ${name.length} characters` : JSON.stringify(name);
  return (
    `Invalid params: params.name (${shown}) is not a tool of this server and not a valid MCP tool name ` +
    `(1 to ${MAX_TOOL_NAME_LENGTH} characters of A-Z a-z 0-9 _ - .); call tools/list for the names`
  );
}
