/**
 * Bounds for client-supplied text on its way into a log line: a 3 MB tool name must not become a 3 MB line.
 * The cut keeps the start and says how much was left out.
 */
export const MAX_LOGGED_TEXT = 256;

export function clip(text: string, max = MAX_LOGGED_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[${text.length - max} more characters]`;
}
