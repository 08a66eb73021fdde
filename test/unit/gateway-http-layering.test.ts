/**
 * The gateway's layers depend downward only: the HTTP layer (src/gateway/http/) uses sessions, the router and
 * the protocol, never the other way round; only the composition root wires http/ to the rest.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const GATEWAY = fileURLToPath(new URL('../../src/gateway/', import.meta.url));
/** The composition root and the entry points built on it. */
const ROOT = new Set(['gateway.ts', 'cli.ts', 'main.ts', 'sea-main.ts', 'runtime.ts']);

function modulesBelowHttp(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(GATEWAY, path);
    if (entry.isDirectory()) {
      if (rel !== 'http') found.push(...modulesBelowHttp(path));
    } else if (entry.name.endsWith('.ts') && !ROOT.has(rel)) found.push(rel);
  }
  return found;
}

const BELOW_HTTP = modulesBelowHttp(GATEWAY);

/** Relative import paths that reach into src/gateway/http/ (not node:http, not upstream/http.ts). */
function httpImportsOf(file: string): string[] {
  const text = readFileSync(join(GATEWAY, file), 'utf8');
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] as string,
  );
  return specifiers.filter(
    (s) => s.startsWith('.') && relative(GATEWAY, join(GATEWAY, file, '..', s)).startsWith('http/'),
  );
}

describe('src/gateway layering', () => {
  it('checks the session layer and what lies below it', () => {
    expect(BELOW_HTTP.length).toBeGreaterThan(10);
    expect(BELOW_HTTP.some((f) => f.endsWith('sessions.ts'))).toBe(true);
  });

  it.each(BELOW_HTTP)('%s does not import the HTTP layer', (file) => {
    expect(httpImportsOf(file)).toEqual([]);
  });
});
