/**
 * Which resource template a URI belongs to (resources/read of a URI no listed resource has), in time linear in
 * the URI: a backend's template is not ours to trust, and a regular expression of adjacent wildcards
 * (`file:///{name}{.ext}` is one) backtracks quadratically or worse, so one long URI from a client froze the
 * aggregate for every client. Pure.
 *
 * RFC 6570 expressions, loosely (a gateway routes, it does not validate): `{x}`, `{.x}`, `{;x}` match within a
 * path segment (no / ? #), `{/x}` whole segments (no ? #), `{+x}` and `{#x}` anything, `{?x}` and `{&x}` an
 * optional query (nothing, or ? or & then anything).
 */

export interface UriMatcher {
  test(uri: string): boolean;
}

/** One step of a template: a literal character, a run of characters of a class, or the start of a query. */
type Token = { literal: string } | { run: (c: string) => boolean } | { query: true };

const SEGMENT = (c: string) => c !== '/' && c !== '?' && c !== '#';
const PATH = (c: string) => c !== '?' && c !== '#';
const ANY = () => true;

function tokens(template: string): Token[] {
  const out: Token[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{([+#?&/.;]?)[^}]*\}/g)) {
    for (const c of template.slice(last, m.index)) out.push({ literal: c });
    const op = m[1];
    if (op === '+' || op === '#') out.push({ run: ANY });
    else if (op === '?' || op === '&') out.push({ query: true }, { run: ANY });
    else out.push({ run: op === '/' ? PATH : SEGMENT });
    last = m.index + m[0].length;
  }
  for (const c of template.slice(last)) out.push({ literal: c });
  return out;
}

/** The leading literal characters: a URI without them cannot match (most templates are ruled out by this). */
function literalPrefix(steps: readonly Token[]): string {
  let prefix = '';
  for (const t of steps) {
    if (!('literal' in t)) break;
    prefix += t.literal;
  }
  return prefix;
}

/** Where reading `c` at position `i` (token `t`) leads: -1 when it cannot. */
function step(t: Token, c: string, i: number): number {
  if ('literal' in t) return t.literal === c ? i + 1 : -1;
  if ('run' in t) return t.run(c) ? i : -1;
  return c === '?' || c === '&' ? i + 1 : -1;
}

/** A template as a matcher: every position of the template tracked at once (no backtracking). */
export function templateMatcher(template: string): UriMatcher {
  const steps = tokens(template);
  const prefix = literalPrefix(steps);
  const n = steps.length;
  // Adds the positions reachable without reading a character: a run may match nothing, a query may be absent.
  const close = (states: Uint8Array) => {
    for (let i = 0; i < n; i++) {
      const t = steps[i] as Token;
      if (!states[i] || 'literal' in t) continue;
      states[i + ('run' in t ? 1 : 2)] = 1;
    }
  };
  return {
    test(uri: string): boolean {
      if (!uri.startsWith(prefix)) return false;
      let current = new Uint8Array(n + 2);
      let next = new Uint8Array(n + 2);
      current[0] = 1;
      close(current);
      for (const c of uri) {
        next.fill(0);
        let alive = false;
        for (let i = 0; i < n; i++) {
          if (!current[i]) continue;
          const to = step(steps[i] as Token, c, i);
          if (to < 0) continue;
          next[to] = 1;
          alive = true;
        }
        if (!alive) return false;
        close(next);
        [current, next] = [next, current];
      }
      return current[n] === 1;
    },
  };
}
