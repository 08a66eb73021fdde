/**
 * `mcp-operator connect NAME [-n NS] --client ...`: prints a client's config for a live server, the same
 * snippet the catalog page shows (src/catalog/snippets.ts). Reads one object; never a Secret.
 */
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { entryOf, type StatusLike } from '../catalog/entry.ts';
import { CLIENTS, type ClientKind, snippet, snippetTarget } from '../catalog/snippets.ts';
import { CATALOG_KINDS } from '../catalog/source.ts';
import { isNotFound, KubeClient, resourcePath } from '../kube/client.ts';

export const CONNECT_USAGE = `Usage: mcp-operator connect NAME [-n NAMESPACE] --client CLIENT [flags]

  NAME                      an McpServer (or, when none has that name, a VirtualMcpServer)
  -n, --namespace NS        its namespace (default: the kubeconfig context's, else default)
  --client CLIENT           ${CLIENTS.join(' | ')}
  --kubeconfig PATH         kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)

The output is the config to paste; bearer tokens stay references (an environment variable or a prompt).`;

export function parseConnectFlags(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      client: { type: 'string' },
      kubeconfig: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { help: true as const };
  if (positionals.length !== 1) throw new Error('give exactly one server NAME');
  const client = values.client;
  if (!client) throw new Error(`--client is required: one of ${CLIENTS.join(', ')}`);
  if (!(CLIENTS as readonly string[]).includes(client))
    throw new Error(`--client must be one of ${CLIENTS.join(', ')}, got ${JSON.stringify(client)}`);
  return {
    help: false as const,
    name: positionals[0] as string,
    namespace: values.namespace,
    client: client as ClientKind,
    kubeconfig: values.kubeconfig,
  };
}

export async function runConnect(argv: string[]): Promise<number> {
  let flags: ReturnType<typeof parseConnectFlags>;
  try {
    flags = parseConnectFlags(argv);
  } catch (err) {
    process.stderr.write(`connect: ${(err as Error).message}\n\n${CONNECT_USAGE}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${CONNECT_USAGE}\n`);
    return 0;
  }
  const kubeConfig = new KubeConfig();
  if (flags.kubeconfig) kubeConfig.loadFromFile(flags.kubeconfig);
  else kubeConfig.loadFromDefault();
  const namespace =
    flags.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  const client = new KubeClient(kubeConfig, { userAgent: 'mcp-operator-connect' });
  for (const kind of CATALOG_KINDS) {
    let object: StatusLike;
    try {
      object = await client.get<StatusLike>(resourcePath(kind, { namespace, name: flags.name }));
    } catch (err) {
      if (isNotFound(err)) continue;
      process.stderr.write(`connect: cannot read ${kind.kind} ${namespace}/${flags.name}: ${(err as Error).message}\n`);
      return 1;
    }
    const entry = entryOf(object, kind.kind);
    const target = snippetTarget(entry);
    if (!target) {
      process.stderr.write(
        `connect: ${kind.kind} ${namespace}/${flags.name} has no URL yet (Ready=${entry.ready.status}, ${entry.ready.reason}): ${entry.ready.message}\n`,
      );
      return 1;
    }
    if (entry.ready.status !== 'True')
      process.stderr.write(
        `connect: note: ${namespace}/${flags.name} is not Ready (${entry.ready.reason}): ${entry.ready.message}\n`,
      );
    const s = snippet(flags.client, target);
    if (s.file) process.stderr.write(`# ${s.label}: put this in ${s.file}\n`);
    process.stdout.write(s.text);
    return 0;
  }
  process.stderr.write(`connect: no McpServer or VirtualMcpServer ${namespace}/${flags.name}\n`);
  return 1;
}
