/** `mcp-operator render -f FILE [-o yaml|json]`, with files and output captured in memory. */
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify, visit } from 'yaml';
import { MAX_INPUT_BYTES, readBounded, runRender } from '../../src/cli/render.ts';
import { httpServer, invalidCases, stdioServer } from '../fixtures/manifests.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  read: string[];
}

function run(argv: string[], files: Record<string, string> = {}): Run {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const read: string[] = [];
  const code = runRender(argv, {
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    readFile: (path) => {
      read.push(path);
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return text;
    },
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), read };
}

const yamlObjects = (text: string): KubernetesObject[] =>
  parseAllDocuments(text)
    .map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as KubernetesObject | null;
    })
    .filter((o): o is KubernetesObject => o != null);

const kinds = (objects: KubernetesObject[]) => objects.map((o) => o.kind).sort();

const GITHUB = `# The GitHub MCP server and its token, as a user keeps them in one file
apiVersion: v1
kind: Secret
metadata:
  name: github
  namespace: tools
stringData:
  token: ghp_not_a_real_token
---
apiVersion: mcpoperator.io/v1alpha1
kind: McpServer
metadata:
  name: github
  namespace: tools
spec:
  image: ghcr.io/github/github-mcp-server:v0.20.0
  command: [/server/github-mcp-server]
  args: [stdio]
  env:
    - name: GITHUB_PERSONAL_ACCESS_TOKEN
      valueFrom:
        secretKeyRef: {name: github, key: token}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated, namespace: tools}
data: {a: b}
`;

describe('render CLI', () => {
  it("renders only the McpServer's children from a file that also holds a Secret", () => {
    const r = run(['-f', 'github.yaml'], { 'github.yaml': GITHUB });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.read).toEqual(['github.yaml']);
    const objects = yamlObjects(r.stdout);
    expect(kinds(objects)).toEqual(['Deployment', 'Service', 'ServiceAccount']);
    for (const o of objects) {
      expect(o.metadata?.name, o.kind).toBe('github');
      expect(o.metadata?.namespace, o.kind).toBe('tools');
      expect(o.metadata?.ownerReferences, o.kind).toBeUndefined();
    }
    // The Secret's value never reaches the output; the reference does.
    expect(r.stdout).not.toContain('ghp_not_a_real_token');
    expect(r.stdout).toContain('secretKeyRef');
  });

  it('prints a v1 List with -o json, holding the same objects as the YAML output', () => {
    const json = run(['-f', 'github.yaml', '-o', 'json'], { 'github.yaml': GITHUB });
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as { apiVersion: string; kind: string; items: KubernetesObject[] };
    expect(list.apiVersion).toBe('v1');
    expect(list.kind).toBe('List');
    expect(kinds(list.items)).toEqual(['Deployment', 'Service', 'ServiceAccount']);
    const yaml = run(['-f', 'github.yaml', '-o', 'yaml'], { 'github.yaml': GITHUB });
    expect(yamlObjects(yaml.stdout)).toEqual(list.items);
  });

  it('spells every object out in YAML, without anchors or aliases a reviewer would have to chase', () => {
    for (const manifest of [stdioServer('s'), httpServer('h')]) {
      const r = run(['-f', 'm.yaml'], { 'm.yaml': stringify(manifest) });
      expect(r.code).toBe(0);
      let aliases = 0;
      for (const doc of parseAllDocuments(r.stdout)) visit(doc, { Alias: () => void aliases++ });
      expect(aliases, `aliases in the ${manifest.spec.transport ?? 'stdio'} output`).toBe(0);
    }
  });

  it('uses the gateway image given with --gateway-image', () => {
    const r = run(['-f', 'm.yaml', '--gateway-image', 'registry.example/mcp-operator:dev'], {
      'm.yaml': stringify(stdioServer()),
    });
    expect(r.code).toBe(0);
    const d = yamlObjects(r.stdout).find((o) => o.kind === 'Deployment') as V1Deployment | undefined;
    expect(d?.spec?.template.spec?.initContainers?.map((c) => c.image)).toEqual(['registry.example/mcp-operator:dev']);
  });

  it("admits the operator's namespace in a narrowed NetworkPolicy, as the controller does; refuses a bad one", () => {
    const manifest = stringify(stdioServer('np', { networkPolicy: { ingressFrom: [{ podSelector: {} }] } }));
    const admitted = (r: Run) =>
      (yamlObjects(r.stdout).find((o) => o.kind === 'NetworkPolicy') as { spec?: { ingress?: unknown[] } }).spec
        ?.ingress;
    const ns = (name: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } } });
    const byDefault = run(['-f', 'm.yaml'], { 'm.yaml': manifest });
    expect(byDefault.code).toBe(0);
    expect(admitted(byDefault)).toContainEqual({
      from: [ns('mcp-operator-system')],
      ports: [{ port: 'mcp', protocol: 'TCP' }],
    });
    const given = run(['-f', 'm.yaml', '--operator-namespace', 'platform'], { 'm.yaml': manifest });
    expect(admitted(given)).toContainEqual({ from: [ns('platform')], ports: [{ port: 'mcp', protocol: 'TCP' }] });
    const bad = run(['-f', 'm.yaml', '--operator-namespace', 'Platform Team'], { 'm.yaml': manifest });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--operator-namespace must be a namespace name, got "Platform Team"');
    expect(bad.stdout).toBe('');
  });
  it('reads JSON manifests too', () => {
    const r = run(['-f', 'remote.json', '-o', 'json'], { 'remote.json': JSON.stringify(httpServer('remote')) });
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { items: KubernetesObject[] };
    expect(kinds(list.items)).toEqual(['Deployment', 'Service', 'ServiceAccount']);
  });

  it('renders the McpServers of several -f files, stdin included', () => {
    const r = run(['-f', 'a.yaml', '-f', '-', '-o', 'json'], {
      'a.yaml': stringify(stdioServer('alpha')),
      '-': `${stringify(httpServer('beta'))}---\n${stringify(stdioServer('gamma', { replicas: 2 }))}`,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.read).toEqual(['a.yaml', '-']);
    const items = (JSON.parse(r.stdout) as { items: KubernetesObject[] }).items;
    const names = new Set(items.map((o) => o.metadata?.name));
    expect([...names].sort()).toEqual(['alpha', 'beta', 'gamma']);
    expect(items.filter((o) => o.metadata?.name === 'gamma').map((o) => o.kind)).toContain('PodDisruptionBudget');
  });

  it('prints nothing and succeeds for a file without McpServers', () => {
    const r = run(['-f', 'other.yaml'], {
      'other.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n',
    });
    expect(r.code).toBe(0);
    expect(yamlObjects(r.stdout)).toEqual([]);
  });

  it('exits 1 naming the field and the file/document of an invalid manifest, and prints no objects', () => {
    const bad = stringify(httpServer('broken', { port: 70000 }));
    const r = run(['-f', 'servers.yaml'], { 'servers.yaml': `${stringify(stdioServer('fine'))}---\n${bad}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('servers.yaml');
    expect(r.stderr).toMatch(/document 2/);
    expect(r.stderr).toContain('spec.port');
    expect(r.stderr).toContain('65535');
    expect(r.stderr).not.toMatch(/document 1\b/);
    expect(r.stdout).toBe('');
  });

  it.each(invalidCases.map((c) => [c.name, c] as const))('refuses %s, naming the field and the fix', (_name, c) => {
    const r = run(['-f', 'bad.yaml'], { 'bad.yaml': stringify(c.manifest) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(c.field);
    expect(r.stderr).toMatch(c.says);
    expect(r.stderr).toContain('bad.yaml');
    expect(r.stdout).toBe('');
  });

  it('exits 1 on a YAML syntax error, naming the file and document', () => {
    const r = run(['-f', 'broken.yaml'], {
      'broken.yaml': `${stringify(stdioServer('fine'))}---\napiVersion: mcpoperator.io/v1alpha1\nkind: McpServer\nspec: {image: [unclosed\n`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('broken.yaml');
    expect(r.stderr).toMatch(/document 2/);
    expect(r.stdout).toBe('');
  });

  it('exits 1 naming a file it cannot read', () => {
    const r = run(['-f', 'missing.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('missing.yaml');
    expect(r.stdout).toBe('');
  });

  it('exits 2 with the usage when -f is missing', () => {
    const r = run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('-f');
    expect(r.stderr).toContain('Usage');
    expect(r.stdout).toBe('');
    expect(r.read).toEqual([]);
  });

  it('exits 2 with the usage on an unknown flag or a stray argument', () => {
    for (const argv of [
      ['-f', 'm.yaml', '--bogus'],
      ['-f', 'm.yaml', 'extra'],
    ]) {
      const r = run(argv, { 'm.yaml': stringify(stdioServer()) });
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toContain('Usage');
      expect(r.stdout, argv.join(' ')).toBe('');
    }
  });

  it('exits 2 on an unknown -o format, saying which ones exist', () => {
    const r = run(['-f', 'm.yaml', '-o', 'xml'], { 'm.yaml': stringify(stdioServer()) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('xml');
    expect(r.stderr).toContain('yaml');
    expect(r.stderr).toContain('json');
    expect(r.stdout).toBe('');
  });

  it('prints the usage on stdout and exits 0 for --help', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage');
    expect(r.stdout).toContain('-f FILE');
    expect(r.stderr).toBe('');
  });
});

describe('render and YAML aliases', () => {
  const header = 'apiVersion: mcpoperator.io/v1alpha1\nkind: McpServer\n';
  it('refuses an alias inside the node its anchor names (an infinite value), naming it, instead of crashing', () => {
    const cyclic = `${header}metadata: {name: cyclic}\nspec: &s {image: a, command: [x], args: *s}\n`;
    const good = `${header}metadata: {name: fine}\nspec: {image: a, command: [x]}\n`;
    const r = run(['-f', 'm.yaml'], { 'm.yaml': `${cyclic}---\n${good}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/m\.yaml \(document 1\): the alias \*s is inside the node its anchor &s names/);
    expect(r.stderr).toMatch(/write the value out instead of the alias/);
    expect(r.stderr).not.toMatch(/document 2/);
  });

  it('renders an alias that repeats a sibling, as kubectl reads it', () => {
    const r = run(['-f', 'm.yaml'], {
      'm.yaml': `${header}metadata: {name: shared}\nspec:\n  image: a\n  command: &c [npx, server]\n  args: *c\n`,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const deployment = yamlObjects(r.stdout).find((o) => o.kind === 'Deployment') as V1Deployment;
    const server = deployment.spec?.template.spec?.containers.find((c) => c.name === 'server');
    expect(server?.args?.slice(-4)).toEqual(['npx', 'server', 'npx', 'server']);
  });
});

describe('render CLI with hostile YAML', () => {
  const vmcp = (rename: string) =>
    [
      'apiVersion: mcpoperator.io/v1alpha1',
      'kind: VirtualMcpServer',
      'metadata: {name: team, namespace: ns}',
      'spec:',
      '  servers:',
      '    - name: github',
      `      tools: {rename: {${rename}}}`,
      '',
    ].join('\n');

  it('reads keys named like Object.prototype members as the text they are, with no bogus kubectl warning', () => {
    const r = run(['-f', 'v.yaml', '-o', 'json'], {
      'v.yaml': vmcp('__proto__: x_tool, constructor: y_tool, valueOf: z'),
    });
    expect(r.stderr).not.toContain('kubectl reads');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { items: Array<{ kind: string; data?: Record<string, string> }> };
    const backends = list.items.find((o) => o.kind === 'ConfigMap')?.data?.['backends.json'] ?? '';
    expect(JSON.parse(backends).backends[0].tools.rename).toEqual(
      JSON.parse('{"__proto__": "x_tool", "constructor": "y_tool", "valueOf": "z"}'),
    );
  });

  it('refuses an alias bomb with a message naming the file, exit 1, never a stack trace', () => {
    const lines = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    let previous = 'a';
    for (const anchor of 'bcdefghi') {
      lines.push(`${anchor}: &${anchor} [${Array(9).fill(`*${previous}`).join(', ')}]`);
      previous = anchor;
    }
    const r = run(['-f', 'bomb.yaml'], { 'bomb.yaml': `${lines.join('\n')}\n${vmcp('a: b')}` });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^render: bomb\.yaml \(document 1\) cannot be read: .*alias/);
  });
});

describe('input that used to pass unseen', () => {
  it("a kind of the operator's group that is not one of its kinds is an error with the likely kind", () => {
    const typo = stringify({ ...stdioServer('typo'), kind: 'McpSever' });
    const r = run(['-f', 'typo.yaml'], { 'typo.yaml': typo });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'kind "McpSever" is not a kind of mcpoperator.io (McpServer, VirtualMcpServer): did you mean McpServer?',
    );
    expect(r.stdout).toBe('');
  });

  it('a top-level list is refused, and a file with nothing to render says so', () => {
    const list = run(['-f', 'list.json'], { 'list.json': JSON.stringify([stdioServer('a')]) });
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/is a list, not a Kubernetes object/);
    const empty = run(['-f', 'empty.yaml'], { 'empty.yaml': '# nothing yet\n' });
    expect(empty.code).toBe(0);
    expect(empty.stderr).toMatch(/warning: no McpServer or VirtualMcpServer in empty\.yaml/);
  });

  it('a kind: List item or a document that is not an object is an error, not a server skipped', () => {
    const list = (items: unknown) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
    const cases: Array<[string, string, RegExp]> = [
      ['null item', list([stdioServer('a'), null]), /item 2 of the kind: List is null, not a Kubernetes object/],
      ['number item', list([7, stdioServer('a')]), /item 1 of the kind: List is a number, not a Kubernetes object/],
      ['nested list item', list([[stdioServer('a')]]), /item 1 of the kind: List is a list/],
      ['items not a list', list({ a: stdioServer('a') }), /the items of a kind: List are an object: write them/],
      ['a scalar document', 'just-a-string\n', /is a string, not a Kubernetes object/],
    ];
    for (const [name, text, says] of cases) {
      const r = run(['-f', 'in.yaml'], { 'in.yaml': text });
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(says);
      expect(r.stdout, name).toBe('');
    }
    // A List of objects, or one with no items, still renders (or says it has nothing).
    expect(run(['-f', 'ok.json'], { 'ok.json': list([stdioServer('a')]) }).code).toBe(0);
    expect(run(['-f', 'none.json'], { 'none.json': list(null) }).stderr).toMatch(/warning: no McpServer/);
  });

  it('an McpServer and a VirtualMcpServer of one name: the children they share are named in a warning', () => {
    const server = stringify({ ...stdioServer('team'), metadata: { name: 'team', namespace: 'ns' } });
    const virtual = stringify({
      apiVersion: 'mcpoperator.io/v1alpha1',
      kind: 'VirtualMcpServer',
      metadata: { name: 'team', namespace: 'ns' },
      spec: { servers: [{ name: 'github' }] },
    });
    const r = run(['-f', 'both.yaml'], { 'both.yaml': `${server}---\n${virtual}` });
    expect(r.code).toBe(0);
    for (const kind of ['ServiceAccount', 'Service', 'Deployment'])
      expect(r.stderr).toContain(`render: warning: ${kind}/ns/team is rendered more than once`);
    // One of a name renders without a warning.
    expect(run(['-f', 'one.yaml'], { 'one.yaml': server }).stderr).toBe('');
  });

  it('control characters from the file are escaped in messages: they cannot drive the terminal', () => {
    const evil = stringify({ ...stdioServer('x'), metadata: { name: 'x\u001b]0;pwned\u0007\r' } });
    const r = run(['-f', 'evil.yaml'], { 'evil.yaml': evil });
    expect(r.code).toBe(1);
    for (const c of ['\u001b', '\u0007', '\r']) expect(r.stderr).not.toContain(c);
    expect(r.stderr).toContain('\\u001b]0;pwned\\u0007');
  });
});

describe('reading the input', () => {
  it('refuses a file past MAX_INPUT_BYTES without holding it whole, and reads one below it', async () => {
    const { mkdtempSync, truncateSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'render-input-'));
    const huge = join(dir, 'huge.yaml');
    writeFileSync(huge, '');
    truncateSync(huge, MAX_INPUT_BYTES + 1); // sparse: nothing is written to disk
    expect(() => readBounded(huge)).toThrow('it is larger than 32 MiB: split it');
    const small = join(dir, 'small.yaml');
    writeFileSync(small, 'kind: ConfigMap\n');
    expect(readBounded(small)).toBe('kind: ConfigMap\n');
  });
});

describe('metadata, checked as the API server would', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a typo of namespace',
      { name: 'm', nmespace: 'prod' },
      /metadata\.nmespace: unknown field: did you mean "namespace"\?/,
    ],
    [
      'a namespace that is no name',
      { name: 'm', namespace: 'Bad_NS' },
      /metadata\.namespace: "Bad_NS" is not a namespace name/,
    ],
    ['a number as namespace', { name: 'm', namespace: 5 }, /metadata\.namespace: must be a string, got 5: quote it/],
    ['a number as name', { name: 123 }, /metadata\.name: must be a string, got 123: quote it/],
    ['a label key with a space', { name: 'm', labels: { 'bad key!': 'x' } }, /the key "bad key!" is not valid/],
    ['a label value that is a number', { name: 'm', labels: { a: 1 } }, /metadata\.labels\.a: must be a string, got 1/],
    [
      'an annotation value that is a boolean',
      { name: 'm', annotations: { a: true } },
      /metadata\.annotations\.a: must be a string/,
    ],
  ])('%s', (_name, metadata, says) => {
    const r = run(['-f', 'm.yaml'], { 'm.yaml': stringify({ ...stdioServer('m'), metadata }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(says);
    expect(r.stdout).toBe('');
  });

  it('the fields the API server adds (uid, managedFields, ownerReferences...) are fine', () => {
    const metadata = {
      name: 'm',
      namespace: 'team-a',
      uid: 'u',
      resourceVersion: '7',
      generation: 2,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { 'example.com/team': 'a', empty: '' },
      annotations: { note: 'any text: with spaces / and ünïcode' },
      finalizers: ['example.com/keep'],
      managedFields: [],
    };
    const r = run(['-f', 'm.yaml'], { 'm.yaml': stringify({ ...stdioServer('m'), metadata }) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('YAML merge keys', () => {
  it('<< merges as kubectl reads it (YAML 1.1), the explicit key winning', () => {
    const text = [
      'apiVersion: mcpoperator.io/v1alpha1',
      'kind: McpServer',
      'metadata: {name: m}',
      'spec:',
      '  image: ghcr.io/x/y:1',
      '  transport: stdio',
      '  command: [x]',
      '  resources:',
      '    requests: &r {cpu: 100m, memory: 128Mi}',
      '    limits: {<<: *r, memory: 256Mi}',
    ].join('\n');
    const r = run(['-f', 'm.yaml', '-o', 'json'], { 'm.yaml': text });
    expect(r.stderr).toBe('');
    const list = JSON.parse(r.stdout) as {
      items: Array<{ kind: string; spec?: { template?: { spec?: { containers?: Array<{ resources?: unknown }> } } } }>;
    };
    const deployment = list.items.find((o) => o.kind === 'Deployment');
    expect(deployment?.spec?.template?.spec?.containers?.[0]?.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '100m', memory: '256Mi' },
    });
  });
});
