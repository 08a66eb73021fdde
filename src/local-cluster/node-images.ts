/**
 * Images for the node without a registry: the pause image is compiled here and committed with buildah; images are
 * copied from buildah's storage into containerd's k8s.io namespace (the one the CRI plugin serves the kubelet) as
 * OCI archives. Both steps are cached.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { run } from './sh.ts';

export const PAUSE_IMAGE = 'localhost/pause:3.10';
const PAUSE_SOURCE = join(import.meta.dirname, 'pause', 'pause.c');
const SOURCE_LABEL = 'io.mcp-operator.e2e.source-sha256';

/** buildah's image ID (the config digest, hex) of `name`, or undefined when buildah's storage lacks it. */
export async function buildahImageId(name: string): Promise<string | undefined> {
  const res = await run('buildah', ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', name], {
    allowFail: true,
  });
  return res.code === 0 ? res.stdout.trim() : undefined;
}

/** Every `name:tag` in buildah's storage. */
export async function buildahImageNames(): Promise<Set<string>> {
  const res = await run('buildah', ['images', '--format', '{{.Name}}:{{.Tag}}'], { allowFail: true });
  return new Set(
    res.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('<none>')),
  );
}

/**
 * Builds PAUSE_IMAGE from pause/pause.c (static, gcc) with `buildah from scratch`, unless buildah's storage already
 * holds one built from the same source. Returns the image name.
 */
export async function ensurePauseImage(workDir: string): Promise<string> {
  const source = readFileSync(PAUSE_SOURCE);
  const sha = createHash('sha256').update(source).digest('hex');
  const label = await run(
    'buildah',
    ['inspect', '--type', 'image', '--format', `{{index .OCIv1.Config.Labels "${SOURCE_LABEL}"}}`, PAUSE_IMAGE],
    { allowFail: true },
  );
  if (label.code === 0 && label.stdout.trim() === sha) return PAUSE_IMAGE;

  mkdirSync(workDir, { recursive: true });
  const dir = mkdtempSync(join(workDir, 'pause-'));
  try {
    const binary = join(dir, 'pause');
    await run('gcc', ['-Os', '-Wall', '-Werror', '-static', '-o', binary, PAUSE_SOURCE]);
    await run('strip', [binary], { allowFail: true });
    const container = (await run('buildah', ['from', 'scratch'])).stdout.trim();
    try {
      await run('buildah', ['copy', '--chmod', '0755', container, binary, '/pause']);
      await run('buildah', [
        'config',
        '--entrypoint',
        '["/pause"]',
        '--user',
        '65535:65535',
        '--label',
        `${SOURCE_LABEL}=${sha}`,
        container,
      ]);
      await run('buildah', ['commit', '--quiet', '--rm', container, PAUSE_IMAGE]);
    } catch (err) {
      await run('buildah', ['rm', container], { allowFail: true });
      throw err;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return PAUSE_IMAGE;
}

export interface ImportTarget {
  /** containerd's socket */
  address: string;
  /** JSON file remembering which buildah image ID each imported name had (kept with containerd's root) */
  cacheFile: string;
  /** scratch directory for the archives */
  workDir: string;
}

/**
 * Makes each image of buildah's storage available to the kubelet under the same name: `buildah push` to an OCI
 * archive (ref.name = the full name, which `ctr images import` uses as the image name), import into k8s.io.
 * Skipped when containerd already holds the name at the same image ID. Pods must use imagePullPolicy Never or
 * IfNotPresent.
 */
export async function importImages(target: ImportTarget, names: string[]): Promise<void> {
  const cache: Record<string, string> = existsSync(target.cacheFile)
    ? JSON.parse(readFileSync(target.cacheFile, 'utf8'))
    : {};
  const ctr = ['--address', target.address, '--namespace', 'k8s.io'];
  const present = new Set(
    (await run('ctr', [...ctr, 'images', 'ls', '--quiet'])).stdout.split('\n').map((line) => line.trim()),
  );
  mkdirSync(target.workDir, { recursive: true });
  for (const name of names) {
    const id = await buildahImageId(name);
    if (!id) throw new Error(`image ${name} is not in buildah's storage (buildah images); build it first`);
    // The CRI plugin also names every image by its config digest: both names present = this very image.
    if (cache[name] === id && present.has(name) && present.has(`sha256:${id}`)) continue;
    const archive = join(target.workDir, `import-${createHash('sha256').update(name).digest('hex').slice(0, 12)}.tar`);
    try {
      rmSync(archive, { force: true });
      await run('buildah', ['push', '--quiet', '--disable-compression', name, `oci-archive:${archive}:${name}`]);
      await run('ctr', [...ctr, 'images', 'import', '--all-platforms', archive], { timeoutMs: 600_000 });
    } finally {
      rmSync(archive, { force: true });
    }
    cache[name] = id;
    writeFileSync(target.cacheFile, `${JSON.stringify(cache, null, 2)}\n`);
  }
}

/** The project's images, built (or found cached) by `scripts/images.sh all`: every name, and the two tests use. */
export async function buildProjectImages(): Promise<{ names: string[]; operator: string; server: string }> {
  const script = join(import.meta.dirname, '../../scripts/images.sh');
  const built = await promisify(execFile)('bash', [script, 'all'], { maxBuffer: 64 * 1024 * 1024 });
  const names = built.stdout.trim().split(/\s+/);
  return {
    names,
    operator: names.find((n) => n.includes('/mcp-operator:')) as string,
    server: names.find((n) => n.includes('/server-everything:')) as string,
  };
}
