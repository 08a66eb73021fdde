/**
 * `render` (YAML 1.2) against kubectl's reading (go-yaml v2's resolve, YAML 1.1 style): the mirror of that
 * resolver, and the warnings `mcp-operator render` prints where the two differ.
 */
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { kubectlReadingDifferences, kubectlScalar } from '../../src/cli/kubectl-yaml.ts';
import { runRender } from '../../src/cli/render.ts';

describe("kubectl's reading of an unquoted scalar (go-yaml v2 resolve)", () => {
  it.each([
    // YAML 1.1 booleans, every spelling go-yaml knows.
    ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'].map((s) => [s, true] as const),
    ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'].map((s) => [s, false] as const),
    ['yEs', 'yEs'],
    ['~', null],
    ['Null', null],
    // Integers: Go's base prefixes, a leading 0 is octal, underscores are dropped.
    ['0755', 493],
    ['-0755', -493],
    ['0o755', 493],
    ['0x1F', 31],
    ['0b101', 5],
    ['-0b101', -5],
    ['1_000', 1000],
    ['08', 8],
    ['+12', 12],
    ['1e3', 1000],
    ['1_000.5', 1000.5],
    ['.5', 0.5],
    ['.inf', Infinity],
    // go-yaml deliberately has no sexagesimal numbers, and keeps timestamps as strings.
    ['1:30', '1:30'],
    ['190:20:30', '190:20:30'],
    ['2001-12-14', '2001-12-14'],
    ['1.2.3', '1.2.3'],
    ['0x', '0x'],
    ['ghp_x', 'ghp_x'],
  ] as const)('%s is %s', (text, value) => {
    expect(kubectlScalar(text)).toEqual(value);
  });
});

const MANIFEST = `apiVersion: mcpoperator.io/v1alpha1
kind: McpServer
metadata:
  name: yaml11
spec:
  image: node:24-slim
  command: [npx, -y, server]
  env:
    - name: VERBOSE
      value: yes
    - name: MODE
      value: "on"
    - name: UMASK
      value: 0755
    - name: WINDOW
      value: 1:30
    - name: TIMEOUT
      value: '1_000'
  pod:
    labels:
      on: call
      team: a
`;

describe('render warns where kubectl would read another value', () => {
  it('names every unquoted scalar YAML 1.1 reads differently, by path, and nothing else', () => {
    const found = kubectlReadingDifferences(parseDocument(MANIFEST));
    expect(found.map((d) => [d.path, d.source, d.kubectl, d.render])).toEqual([
      ['spec.env[0].value', 'yes', true, 'yes'],
      ['spec.env[2].value', '0755', 493, 755],
      ['spec.pod.labels.on (key)', 'on', true, 'on'],
    ]);
  });

  it('prints the warnings on stderr with the file, document and fix, and still renders', () => {
    const stderr: string[] = [];
    const stdout: string[] = [];
    const code = runRender(['-f', 'm.yaml'], {
      stdout: (t) => stdout.push(t),
      stderr: (t) => stderr.push(t),
      readFile: () => `---\nkind: ConfigMap\ndata: {a: b}\n---\n${MANIFEST.replace('value: 0755', "value: '0755'")}`,
    });
    expect(stderr.join('')).toBe(
      [
        'render: warning: m.yaml (document 2) spec.env[0].value: kubectl reads yes as true (YAML 1.1) but render as "yes" (YAML 1.2): quote it ("yes") if you mean the text, or write true if you mean that\n',
        'render: warning: m.yaml (document 2) spec.pod.labels.on (key): kubectl reads on as true (YAML 1.1) but render as "on" (YAML 1.2): quote it ("on") if you mean the text, or write true if you mean that\n',
      ].join(''),
    );
    expect(code).toBe(0);
    expect(stdout.join('')).toContain('kind: Deployment');
  });

  it('is silent for a file both read the same way', () => {
    const stderr: string[] = [];
    runRender(['-f', 'm.yaml'], {
      stdout: () => {},
      stderr: (t) => stderr.push(t),
      readFile: () =>
        MANIFEST.replace('value: yes', 'value: "yes"')
          .replace('value: 0755', 'value: "0755"')
          .replace('on: call', '"on": call'),
    });
    expect(stderr).toEqual([]);
  });
});
