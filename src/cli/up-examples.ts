/**
 * Which examples `up` can run on its node, decided without I/O: the node never pulls from a registry, so an
 * example runs only when its image is local (already in buildah's storage, or built by a script of this
 * repository); any other is listed with the command that would make it local. Examples that read a Secret for an
 * external service (a GitHub token, a database DSN) are marked: they run with a placeholder at most.
 */
import type { McpServer } from '../api/types.generated.ts';

/** An image this repository builds, by name prefix, and the command (from the repository root) that builds it. */
export interface ImageBuilder {
  prefix: string;
  command: string[];
}

export const IMAGE_BUILDERS: ImageBuilder[] = [
  { prefix: 'localhost/python-fastmcp:', command: ['bash', 'scripts/example-images.sh', 'fastmcp'] },
  { prefix: 'localhost/python-uvx-time:', command: ['bash', 'scripts/example-images.sh', 'uvx'] },
  { prefix: 'localhost/server-everything:', command: ['bash', 'scripts/images.sh', 'servers'] },
  { prefix: 'localhost/echo-server:', command: ['bash', 'scripts/images.sh', 'servers'] },
  { prefix: 'localhost/node:', command: ['bash', 'scripts/images.sh', 'base'] },
  { prefix: 'localhost/mcp-operator:', command: ['bash', 'scripts/images.sh', 'operator'] },
];

export type ImageSource =
  /** in buildah's storage: imported into the node as it is */
  | { kind: 'present' }
  /** built here first (then imported) */
  | { kind: 'build'; command: string[] }
  /** neither: the example is not run; `command` would make the image local */
  | { kind: 'not-local'; command: string[] };

export interface ExamplePlan {
  name: string;
  image: string;
  source: ImageSource;
  /** Secrets (name/key) holding a credential of an external service; the example gets placeholders for them */
  credentials: string[];
}

export function builderFor(image: string, builders: ImageBuilder[] = IMAGE_BUILDERS): ImageBuilder | undefined {
  return builders.find((b) => image.startsWith(b.prefix));
}

/** Where an image comes from, given the names in buildah's storage. */
export function imageSource(image: string, local: ReadonlySet<string>, builders = IMAGE_BUILDERS): ImageSource {
  if (local.has(image) || local.has(`localhost/${image}`)) return { kind: 'present' };
  const builder = builderFor(image, builders);
  if (builder) return { kind: 'build', command: builder.command };
  return { kind: 'not-local', command: ['buildah', 'pull', image] };
}

/**
 * Secret references that stand for an external credential: env valueFrom.secretKeyRef and envFrom secretRef.
 * The bearer token of spec.auth is not one: it is the clients' own, and a placeholder works for it.
 */
export function credentialRefs(server: McpServer): string[] {
  const refs: string[] = [];
  for (const env of server.spec.env ?? []) {
    const ref = env.valueFrom?.secretKeyRef;
    if (ref) refs.push(`${ref.name}/${ref.key}`);
  }
  for (const from of server.spec.envFrom ?? []) {
    if (from.secretRef?.name) refs.push(`${from.secretRef.name}/*`);
  }
  return refs;
}

export function planExamples(
  servers: McpServer[],
  local: ReadonlySet<string>,
  builders = IMAGE_BUILDERS,
): ExamplePlan[] {
  return servers.map((s) => ({
    name: s.metadata?.name ?? '',
    image: s.spec.image,
    source: imageSource(s.spec.image, local, builders),
    credentials: credentialRefs(s),
  }));
}

/** The distinct build commands the runnable examples need, in order. */
export function buildCommands(plans: ExamplePlan[]): string[][] {
  const seen = new Map<string, string[]>();
  for (const p of plans) if (p.source.kind === 'build') seen.set(p.source.command.join(' '), p.source.command);
  return [...seen.values()];
}

/** Each runnable example's loopback port: `base` + its index by name, the same every run. */
export function assignPorts(names: Iterable<string>, base: number): Map<string, number> {
  return new Map([...names].sort().map((name, i) => [name, base + i]));
}
