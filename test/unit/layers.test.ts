/**
 * Imports point down. Each top-level directory of src/ is a layer and may import only the layers listed for it;
 * a new upward import fails here with the file and the line, before it knots the code. The README's
 * "Architecture" section describes the same table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** What each layer may import besides itself. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  contract: [],
  observability: [],
  api: ['contract'],
  render: ['api', 'contract'],
  kube: ['observability'],
  controller: ['api', 'contract', 'render', 'kube', 'observability'],
  gateway: ['contract', 'observability'],
  catalog: ['api', 'contract', 'kube', 'observability', 'gateway'],
  'local-cluster': ['api', 'contract', 'render', 'kube', 'controller', 'observability'],
  // The composition root: it wires every layer together.
  cli: ['api', 'contract', 'render', 'kube', 'controller', 'gateway', 'catalog', 'local-cluster', 'observability'],
};

/** Known upward imports being removed (issue 12); each entry must still exist, so the list only shrinks. */
const PENDING: readonly string[] = [];

/**
 * Inside the gateway: protocol <- upstream, policy <- mux <- sessions, aggregate <- http <- the composition root. A unit is a
 * subdirectory or a top-level file; the shared leaves (config, audit, metrics, ...) sit under every layer.
 */
const GATEWAY_LEAVES = ['audit.ts', 'clip.ts', 'config.ts', 'input.ts', 'metrics.ts', 'tool-names.ts', 'version.ts'];
const GATEWAY_MAY_IMPORT: Record<string, readonly string[]> = {
  'protocol/': [],
  'upstream/': ['protocol/'],
  'policy/': ['protocol/'],
  'mux/': ['protocol/', 'upstream/', 'policy/'],
  'sessions.ts': ['mux/', 'protocol/', 'upstream/'],
  // A VirtualMcpServer's backends and routing: beside the sessions, above the mux it gives many upstreams.
  'aggregate/': ['mux/', 'protocol/', 'upstream/'],
  'health.ts': ['protocol/', 'upstream/'],
  'http/': ['sessions.ts', 'mux/', 'protocol/', 'policy/', 'upstream/'],
};
/** The composition root and entry points: they wire the layers together. */
const GATEWAY_ROOT = ['gateway.ts', 'parts.ts', 'listen.ts', 'cli.ts', 'main.ts', 'sea-main.ts', 'runtime.ts'];

function gatewayUnit(path: string): string {
  const [, first, second] = path.split('/');
  return second === undefined ? (first as string) : `${first}/`;
}

const MAX_LINES = 500;
/** The schema is data: one declaration per field, read top to bottom; splitting it would scatter the API. */
const LONG_ALLOWED = new Set(['api/schema.ts', 'api/types.generated.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

interface Edge {
  from: string;
  to: string;
  line: number;
}

function imports(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  const pattern = /(?:from\s+|import\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(pattern)) {
    const target = resolve(file, '..', m[1] as string);
    const line = text.slice(0, m.index).split('\n').length;
    edges.push({ from: relative(SRC, file), to: relative(SRC, target), line });
  }
  return edges;
}

const layerOf = (path: string) => path.split('/')[0] as string;
const files = sourceFiles(SRC);

describe('the layers of src/', () => {
  const edges = files.flatMap(imports);

  it('has a rule for every layer', () => {
    expect([...new Set(files.map((f) => layerOf(relative(SRC, f))))].filter((l) => !(l in MAY_IMPORT))).toEqual([]);
  });

  it('imports only downward', () => {
    const upward = edges
      .filter((e) => layerOf(e.from) !== layerOf(e.to) && !MAY_IMPORT[layerOf(e.from)]?.includes(layerOf(e.to)))
      .map((e) => `${e.from} -> ${e.to}`);
    const unexpected = edges
      .filter((e) => upward.includes(`${e.from} -> ${e.to}`) && !PENDING.includes(`${e.from} -> ${e.to}`))
      .map((e) => `${e.from}:${e.line} imports ${e.to}`);
    expect(unexpected).toEqual([]);
    expect(
      PENDING.filter((p) => !upward.includes(p)),
      'remove fixed entries from PENDING',
    ).toEqual([]);
  });

  it('keeps the gateway in layers: protocol, upstream and policy, mux, sessions, http, root', () => {
    const inGateway = edges.filter((e) => layerOf(e.from) === 'gateway' && layerOf(e.to) === 'gateway');
    const wrong = inGateway
      .map((e) => ({ ...e, a: gatewayUnit(e.from), b: gatewayUnit(e.to) }))
      .filter(({ a, b }) => a !== b && !GATEWAY_ROOT.includes(a) && !GATEWAY_LEAVES.includes(b))
      .filter(({ a, b }) => !(GATEWAY_MAY_IMPORT[a] ?? []).includes(b))
      .map((e) => `${e.from}:${e.line} imports ${e.to}`);
    expect(wrong).toEqual([]);
    const units = new Set(
      files
        .map((f) => relative(SRC, f))
        .filter((f) => f.startsWith('gateway/'))
        .map(gatewayUnit),
    );
    const unplaced = [...units].filter(
      (u) => !(u in GATEWAY_MAY_IMPORT) && !GATEWAY_ROOT.includes(u) && !GATEWAY_LEAVES.includes(u),
    );
    expect(unplaced, 'place every gateway module in a layer').toEqual([]);
  });

  it(`keeps every file at or under ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ file: relative(SRC, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES && !LONG_ALLOWED.has(f.file));
    expect(long.filter((f) => !PENDING_LONG.includes(f.file))).toEqual([]);
    expect(
      PENDING_LONG.filter((f) => !long.some((l) => l.file === f)),
      'remove split files from PENDING_LONG',
    ).toEqual([]);
  });
});

/** Files being split (issue 12); the list only shrinks. */
const PENDING_LONG: readonly string[] = [];
