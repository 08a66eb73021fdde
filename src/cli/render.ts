/** `mcp-operator render -f FILE [-o yaml|json]`: the objects the controller would create, offline. */
import { closeSync, openSync, readSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { GROUP, KIND, VIRTUAL_KIND } from '../api/schema.ts';
import type { McpServer, VirtualMcpServer } from '../api/types.generated.ts';
import { InvalidMcpServerError, metadataErrors, parseMcpServer, parseVirtualMcpServer } from '../api/validate.ts';
import { renderChildren } from '../render/index.ts';
import { nameOf, namespaceOf } from '../render/metadata.ts';
import { renderVirtualChildren } from '../render/virtual.ts';
import { backendsFile, selectBackends } from '../render/virtual-backends.ts';
import { DEFAULT_GATEWAY_IMAGE, DEFAULT_OPERATOR_NAMESPACE, isNamespace } from './defaults.ts';
import { describeDifference, kubectlReadingDifferences, selfContainingAlias } from './kubectl-yaml.ts';
import { printable } from './printable.ts';

export const RENDER_USAGE = `Usage: mcp-operator render -f FILE [-f FILE...] [-o yaml|json] [--gateway-image IMAGE]
       [--operator-namespace NS]

Prints the Kubernetes objects the controller creates for the McpServers and VirtualMcpServers in FILE (YAML
or JSON, several documents allowed, - for stdin). Other kinds in the file are ignored. A VirtualMcpServer's
backends are the McpServers of the input (a listed one that is absent is assumed to run its gateway). The
Secrets the controller makes at run time are not printed: the session keys (random) and a VirtualMcpServer's
credentials for its backends with auth on (minted from their keys). Exits 1 when a manifest is invalid.
--operator-namespace: where the controller runs (default: mcp-operator-system), admitted by NetworkPolicies.
Warns on stderr where kubectl, which reads YAML 1.1, would read an unquoted value differently (yes, on, 0755).`;

export interface RenderIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readFile: (path: string) => string;
}

/** Larger than any manifest a person reviews (the API server takes at most 3 MiB an object): refused unread. */
export const MAX_INPUT_BYTES = 32 * 1024 * 1024;

/** The file (or stdin), read up to MAX_INPUT_BYTES: a larger one, or /dev/zero, is refused, not buffered whole. */
export function readBounded(path: string): string {
  const fd = path === '-' ? 0 : openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue; // a non-blocking stdin: wait for data
        throw err;
      }
      if (n === 0) break;
      size += n;
      if (size > MAX_INPUT_BYTES) throw new Error(`it is larger than ${MAX_INPUT_BYTES >> 20} MiB: split it`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    return Buffer.concat(chunks, size).toString('utf8');
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

const defaultIO: RenderIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readFile: readBounded,
};

/** A kind of this operator's API group that is neither of its kinds: a typo, said so rather than skipped. */
function unknownOwnKind(item: { apiVersion?: unknown; kind?: unknown }): string | undefined {
  if (typeof item.apiVersion !== 'string' || !item.apiVersion.startsWith(`${GROUP}/`)) return undefined;
  if (item.kind === KIND || item.kind === VIRTUAL_KIND) return undefined;
  const said = printable(JSON.stringify(item.kind ?? null));
  const lower = String(item.kind).toLowerCase();
  const near = lower.startsWith('virtual') ? VIRTUAL_KIND : lower.includes('mcp') ? KIND : undefined;
  return `kind ${said} is not a kind of ${GROUP} (${KIND}, ${VIRTUAL_KIND})${near ? `: did you mean ${near}?` : ''}`;
}

export function runRender(argv: string[], given: RenderIO = defaultIO): number {
  // Names and keys come from the file: they must not drive the terminal (escape sequences, carriage returns).
  const io: RenderIO = { ...given, stderr: (t) => given.stderr(printable(t)) };
  let values: {
    file?: string[];
    output?: string;
    'gateway-image'?: string;
    'operator-namespace'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'yaml' },
        'gateway-image': { type: 'string', default: DEFAULT_GATEWAY_IMAGE },
        'operator-namespace': { type: 'string', default: DEFAULT_OPERATOR_NAMESPACE },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr(`render: ${(err as Error).message}\n\n${RENDER_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(`${RENDER_USAGE}\n`);
    return 0;
  }
  if (!values.file?.length) {
    io.stderr(`render: -f FILE is required\n\n${RENDER_USAGE}\n`);
    return 2;
  }
  const operatorNamespace = values['operator-namespace'] as string;
  if (!isNamespace(operatorNamespace)) {
    io.stderr(
      `render: --operator-namespace must be a namespace name, got ${JSON.stringify(operatorNamespace)}\n\n${RENDER_USAGE}\n`,
    );
    return 2;
  }
  if (values.output !== 'yaml' && values.output !== 'json') {
    io.stderr(`render: -o must be yaml or json, got ${JSON.stringify(values.output)}\n\n${RENDER_USAGE}\n`);
    return 2;
  }

  // In input order; a VirtualMcpServer is rendered once every McpServer of the input is known.
  const rendered: Array<unknown[] | (() => unknown[])> = [];
  const servers: McpServer[] = [];
  const virtuals: VirtualMcpServer[] = [];
  let failed = false;
  let found = 0;
  for (const file of values.file) {
    let text: string;
    try {
      text = io.readFile(file);
    } catch (err) {
      io.stderr(`render: cannot read ${file}: ${(err as Error).message}\n`);
      return 1;
    }
    const documents = parseAllDocuments(text, { merge: true });
    for (const [index, doc] of (Array.isArray(documents) ? documents : [documents]).entries()) {
      const where = `${file} (document ${index + 1})`;
      if (doc.errors.length) {
        io.stderr(`render: ${where} is not valid YAML: ${doc.errors[0]?.message}\n`);
        failed = true;
        continue;
      }
      const cycle = selfContainingAlias(doc);
      if (cycle !== undefined) {
        io.stderr(
          `render: ${where}: the alias *${cycle} is inside the node its anchor &${cycle} names, so its value would be infinite (kubectl refuses it too): write the value out instead of the alias\n`,
        );
        failed = true;
        continue;
      }
      let manifest: { kind?: unknown; items?: unknown[] } | null;
      try {
        // kubectl reads YAML 1.1: say where it would see another value than the one rendered here.
        for (const difference of kubectlReadingDifferences(doc)) io.stderr(describeDifference(where, difference));
        manifest = doc.toJS() as typeof manifest;
      } catch (err) {
        // The YAML library refuses alias bombs (and the like) by throwing: a message, never a stack trace.
        io.stderr(`render: ${where} cannot be read: ${(err as Error).message}\n`);
        failed = true;
        continue;
      }
      if (manifest == null) continue;
      const gatewayImage = values['gateway-image'] as string;
      if (Array.isArray(manifest)) {
        io.stderr(
          `render: ${where} is a list, not a Kubernetes object: write each object as its own document (---), or as the items of a kind: List\n`,
        );
        failed = true;
        continue;
      }
      const problem = notObjects(manifest);
      if (problem) {
        io.stderr(`render: ${where}: ${problem}\n`);
        failed = true;
        continue;
      }
      // `kubectl get mcps -o yaml` prints a List: render its items.
      const items = manifest.kind === 'List' ? (manifest.items ?? []) : [manifest];
      for (const item of items as Array<{ apiVersion?: unknown; kind?: unknown }>) {
        const typo = item && typeof item === 'object' ? unknownOwnKind(item) : undefined;
        if (typo) {
          io.stderr(`render: ${where}: ${typo}\n`);
          failed = true;
          continue;
        }
        if (item?.kind !== KIND && item?.kind !== VIRTUAL_KIND) continue;
        found++;
        // The API server's checks of metadata (the schema leaves them to it): a typo is not dropped unseen.
        const metaErrors = metadataErrors((item as { metadata?: unknown }).metadata);
        if (metaErrors.length) {
          const meta = (item as { metadata?: { name?: unknown } }).metadata;
          const shown = typeof meta?.name === 'string' ? meta.name : '<unnamed>';
          io.stderr(`render: ${where}: ${new InvalidMcpServerError(shown, metaErrors, String(item.kind)).message}\n`);
          failed = true;
          continue;
        }
        try {
          if (item.kind === KIND) {
            const mcp = parseMcpServer(item);
            servers.push(mcp);
            rendered.push(renderChildren(mcp, { gatewayImage, operatorNamespace }));
          } else {
            const vmcp = parseVirtualMcpServer(item);
            virtuals.push(vmcp);
            rendered.push(() => renderVirtual(vmcp, servers, virtuals, gatewayImage, where, io));
          }
        } catch (err) {
          if (!(err instanceof InvalidMcpServerError)) throw err;
          io.stderr(`render: ${where}: ${err.message}\n`);
          failed = true;
        }
      }
    }
  }
  if (failed) return 1;
  // Nothing to render is not an error (a file of other kinds, an empty one), but it is said, not silent.
  if (found === 0) {
    io.stderr(
      `render: warning: no ${KIND} or ${VIRTUAL_KIND} in ${values.file.join(', ')} (other kinds are ignored): check the kind and apiVersion (${GROUP}/v1alpha1)\n`,
    );
  }
  const objects = rendered.flatMap((r) => (typeof r === 'function' ? r() : r));
  for (const clash of clashingChildren(objects)) {
    io.stderr(
      `render: warning: ${clash} is rendered more than once (two McpServers or VirtualMcpServers of one name in one namespace): in a cluster the first keeps it and the other reports ChildConflict; rename one\n`,
    );
  }
  if (values.output === 'json') {
    io.stdout(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`);
  } else {
    // No anchors/aliases: every object spelled out in full for review.
    io.stdout(objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n'));
  }
  return 0;
}

/** Kind/namespace/name of each object rendered twice. */
function clashingChildren(objects: unknown[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const o of objects as Array<{ kind?: string; metadata?: { name?: string; namespace?: string } }>) {
    const key = `${o.kind}/${o.metadata?.namespace ?? 'default'}/${o.metadata?.name}`;
    if (seen.has(key)) twice.add(key);
    seen.add(key);
  }
  return [...twice];
}

function renderVirtual(
  vmcp: VirtualMcpServer,
  servers: McpServer[],
  virtuals: VirtualMcpServer[],
  gatewayImage: string,
  where: string,
  io: RenderIO,
): unknown[] {
  const inNamespace = servers.filter((s) => namespaceOf(s) === namespaceOf(vmcp));
  const selection = selectBackends(vmcp, inNamespace);
  const nested = new Set(virtuals.filter((v) => namespaceOf(v) === namespaceOf(vmcp)).map(nameOf));
  for (const name of selection.missing) {
    if (nested.has(name)) {
      io.stderr(
        `render: ${where}: ${name} is a VirtualMcpServer in the input, not an McpServer: backends are McpServers only (an aggregate cannot be nested); list its McpServers instead\n`,
      );
      continue;
    }
    io.stderr(
      `render: ${where}: McpServer ${name} is not in the input: its URL assumes it runs the gateway (http://${name}.${namespaceOf(vmcp)}.svc:8080/mcp)\n`,
    );
  }
  return renderVirtualChildren(vmcp, backendsFile(vmcp, selection), { gatewayImage });
}

const typeName = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/**
 * What keeps a document from being one object, or a kind: List of them (kubectl refuses both): a scalar
 * document, items that are not a list, an item that is not an object. A skipped one would be a server not made.
 */
function notObjects(manifest: unknown): string | undefined {
  if (typeof manifest !== 'object' || manifest === null)
    return `is ${typeName(manifest)}, not a Kubernetes object: write an object with apiVersion, kind and metadata`;
  const list = manifest as { kind?: unknown; items?: unknown };
  if (list.kind !== 'List') return undefined;
  if (list.items !== undefined && list.items !== null && !Array.isArray(list.items))
    return `the items of a kind: List are ${typeName(list.items)}: write them as a list of objects`;
  const items = (list.items ?? []) as unknown[];
  const bad = items.findIndex((i) => typeof i !== 'object' || i === null || Array.isArray(i));
  return bad < 0
    ? undefined
    : `item ${bad + 1} of the kind: List is ${typeName(items[bad])}, not a Kubernetes object: remove it or write the object`;
}
