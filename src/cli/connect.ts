/**
 * `mcp-operator connect NAME [-n NS] --client ...`: prints a client's config for a live server, the same
 * snippet the catalog page shows (src/catalog/snippets.ts). Reads one object; never a Secret.
 */

import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { entryOf, type StatusLike } from '../catalog/entry.ts';
import { CLIENTS, type ClientKind, snippet, snippetTarget } from '../catalog/snippets.ts';
import { CATALOG_KINDS } from '../catalog/source.ts';
import { isNotFound, KubeClient, resourcePath } from '../kube/client.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { CLI_ANSWER_TIMEOUT_MS, isNamespace } from './defaults.ts';
import { hasControl, printable } from './printable.ts';

export const CONNECT_USAGE = `Usage: mcp-operator connect NAME [-n NAMESPACE] --client CLIENT [flags]

  NAME                      an McpServer (or, when none has that name, a VirtualMcpServer)
  -n, --namespace NS        its namespace (default: the kubeconfig context's, else default)
  --client CLIENT           ${CLIENTS.join(' | ')}
  --kubeconfig PATH         kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)

The output is the config to paste; bearer tokens stay references (an environment variable or a prompt).`;

/** Kubernetes object names: a DNS-1123 subdomain; namespaces: a DNS-1123 label. Checked before any request. */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

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
  const name = positionals[0] as string;
  if (name.length > 253 || !OBJECT_NAME.test(name))
    throw new Error(
      `NAME must be a Kubernetes object name (lowercase letters, digits, - and ., e.g. github), got ${JSON.stringify(name)}`,
    );
  if (values.namespace !== undefined && !isNamespace(values.namespace))
    throw new Error(
      `-n/--namespace must be a namespace name (lowercase letters, digits and -), got ${JSON.stringify(values.namespace)}`,
    );
  const client = values.client;
  if (!client) throw new Error(`--client is required: one of ${CLIENTS.join(', ')}`);
  if (!(CLIENTS as readonly string[]).includes(client))
    throw new Error(`--client must be one of ${CLIENTS.join(', ')}, got ${JSON.stringify(client)}`);
  return {
    help: false as const,
    name,
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
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(flags.kubeconfig);
  } catch (err) {
    process.stderr.write(`connect: ${(err as Error).message}\n`);
    return 1;
  }
  const namespace =
    flags.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  const client = new KubeClient(kubeConfig, {
    userAgent: 'mcp-operator-connect',
    answerTimeoutMs: CLI_ANSWER_TIMEOUT_MS,
  });
  for (const kind of CATALOG_KINDS) {
    let object: StatusLike;
    try {
      object = await client.get<StatusLike>(resourcePath(kind, { namespace, name: flags.name }));
    } catch (err) {
      if (isNotFound(err)) continue;
      process.stderr.write(
        `${printable(`connect: cannot read ${kind.kind} ${namespace}/${flags.name}: ${(err as Error).message}`)}\n`,
      );
      return 1;
    }
    const entry = entryOf(object, kind.kind);
    const target = snippetTarget(entry);
    if (!target) {
      process.stderr.write(
        `${printable(
          `connect: ${kind.kind} ${namespace}/${flags.name} has no URL yet (Ready=${entry.ready.status}, ${entry.ready.reason}): ${entry.ready.message}`,
        )}\n`,
      );
      return 1;
    }
    if (entry.ready.status !== 'True')
      process.stderr.write(
        `${printable(
          `connect: note: ${namespace}/${flags.name} is not Ready (${entry.ready.reason}): ${entry.ready.message}`,
        )}\n`,
      );
    const s = snippet(flags.client, target);
    // The snippet is pasted as is: a URL with control characters is refused rather than escaped into another URL.
    if (hasControl(s.text)) {
      process.stderr.write(
        `connect: the URL in ${kind.kind} ${namespace}/${flags.name}'s status holds control characters (${printable(target.url)}): not printing it\n`,
      );
      return 1;
    }
    if (s.file) process.stderr.write(`# ${s.label}: put this in ${s.file}\n`);
    process.stdout.write(s.text);
    return 0;
  }
  process.stderr.write(
    `connect: no McpServer or VirtualMcpServer ${namespace}/${flags.name} (check the name and -n: kubectl get mcpservers,vmcps -A)\n`,
  );
  return 1;
}
