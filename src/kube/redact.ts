/**
 * Credentials kept out of error messages. A proxy in front of the API server, an authenticating webhook or an exec
 * plugin can echo what it was sent (an `Authorization` header, a rejected token) in the text that becomes an error,
 * and the CLI prints errors and the controller logs them.
 */

/** Shorter values are not searched for: a 3-letter password would redact every word that contains it. */
const MIN_SECRET_LENGTH = 8;
export const REDACTED = '[redacted]';

/** What a request's headers and the kubeconfig's user hold that must not be repeated: tokens, passwords. */
export function credentialsOf(
  headers: Readonly<Record<string, string>>,
  user?: { token?: string | undefined; password?: string | undefined },
): string[] {
  const found = new Set<string>();
  const add = (v: string | undefined) => {
    if (v !== undefined && v.length >= MIN_SECRET_LENGTH) found.add(v);
  };
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'authorization') continue;
    const [scheme = '', credential = ''] = value.trim().split(/\s+/, 2);
    add(credential);
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credential, 'base64').toString('utf8');
      add(decoded);
      add(decoded.slice(decoded.indexOf(':') + 1));
    }
  }
  add(user?.token);
  add(user?.password);
  // Longest first, so a token is replaced before a password that is part of it.
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every occurrence of each credential replaced by [redacted]. A replacement can join with what
 * surrounds it into a new occurrence (a credential that starts with `d]`, say): a few passes, then the whole
 * text is withheld rather than risk it.
 */
export function redact(text: string, credentials: readonly string[]): string {
  let out = text;
  for (let pass = 0; pass < 4; pass++) {
    const left = credentials.filter((c) => out.includes(c));
    if (left.length === 0) return out;
    for (const c of left) out = out.split(c).join(REDACTED);
  }
  return credentials.some((c) => out.includes(c)) ? `${REDACTED} (the message repeated a credential)` : out;
}

/** The same value with every string inside it redacted (an API server's Status body, say). */
export function redactDeep<T>(value: T, credentials: readonly string[]): T {
  if (credentials.length === 0) return value;
  if (typeof value === 'string') return redact(value, credentials) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, credentials)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, credentials);
    return out as T;
  }
  return value;
}
