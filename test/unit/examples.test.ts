/** `mcp-operator render -f` works on every manifest in examples/, through the real CLI entry point. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readManifests } from '../../src/cli/up-manifests.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'));

describe('mcp-operator render on examples/', () => {
  it.each(examples)('renders %s', (file) => {
    const out = execFileSync(
      process.execPath,
      [join(ROOT, 'src/cli/main.ts'), 'render', '-f', join(ROOT, 'examples', file)],
      {
        encoding: 'utf8',
      },
    );
    const objects = parseAllDocuments(out).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    const kinds = objects.map((o) => o.kind);
    expect(kinds).toContain('Deployment');
    expect(kinds).toContain('Service');
    for (const o of objects) expect(o.metadata.name).toMatch(/^[a-z][-a-z0-9]*$/);
    // The Gateway API example prints its HTTPRoute, the one render shows that the controller applies separately.
    if (file === 'gateway-api.yaml') expect(kinds).toContain('HTTPRoute');
  });

  it('names every McpServer apart: `up` applies all of examples/ into one namespace', () => {
    const names = examples.flatMap((file) =>
      parseAllDocuments(readFileSync(join(ROOT, 'examples', file), 'utf8'))
        .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } })
        .filter((o) => o?.kind === 'McpServer')
        .map((o) => o.metadata?.name),
    );
    // every file holds an McpServer, but for virtual.yaml (a VirtualMcpServer over three of them)
    expect(names.length).toBeGreaterThanOrEqual(examples.length - 1);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('virtual.yaml puts McpServers of examples/ behind one endpoint, and `up` leaves it out', () => {
    const file = join(ROOT, 'examples', 'virtual.yaml');
    const out = execFileSync(process.execPath, [join(ROOT, 'src/cli/main.ts'), 'render', '-f', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const list = parseAllDocuments(out)
      .map((d) => d.toJS() as { kind: string; data?: Record<string, string> })
      .find((o) => o.kind === 'ConfigMap');
    const backends = JSON.parse(list?.data?.['backends.json'] ?? '{}').backends as Array<{ name: string }>;
    const servers = readManifests(join(ROOT, 'examples')).filter((m) => m.kind === 'McpServer');
    expect(backends.map((b) => b.name)).toEqual(['python-fastmcp', 'python-time', 'filesystem']);
    for (const b of backends) expect(servers.map((s) => s.metadata?.name)).toContain(b.name);
    // up applies McpServers, Secrets and ConfigMaps only (its header comment says to apply it by hand)
    expect(readManifests(join(ROOT, 'examples')).map((m) => m.kind)).not.toContain('VirtualMcpServer');
  });

  it('exits 1 and names the field for an invalid manifest on stdin', () => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, [join(ROOT, 'src/cli/main.ts'), 'render', '-f', '-'], {
        input:
          'apiVersion: mcpoperator.io/v1alpha1\nkind: McpServer\nmetadata: {name: bad}\nspec: {image: x, transport: sse}\n',
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = (err as { stderr: string }).stderr;
    }
    expect(status).toBe(1);
    expect(stderr).toMatch(/spec\.port: streamable-http and sse servers need spec\.port/);
  });
});
