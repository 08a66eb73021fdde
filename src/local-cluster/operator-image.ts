/**
 * The operator image for a local node (the controller's gateway image): `scripts/images.sh operator` builds it from
 * the Dockerfile. A rebuild with nothing changed still costs buildah tens of seconds, so the digest of the build's
 * inputs (the files the Dockerfile copies) is remembered with the image ID, and the build is skipped while both
 * still match.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { buildahImageId } from './node-images.ts';
import { run } from './sh.ts';

/** What the Dockerfile's build reads (COPY), relative to the repository root. */
export const OPERATOR_INPUTS = ['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'bin', 'src'];

function files(root: string, path: string): string[] {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full)
    .sort()
    .flatMap((name) => files(root, join(path, name)));
}

/** sha256 over the names and contents of the build's inputs. */
export function operatorInputsDigest(root: string, inputs = OPERATOR_INPUTS): string {
  const hash = createHash('sha256');
  for (const file of inputs.flatMap((p) => files(root, p))) {
    hash.update(`${relative(root, join(root, file))}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

interface Remembered {
  digest: string;
  image: string;
  id: string;
}

const cacheFile = () =>
  join(process.env.MCP_OPERATOR_CACHE ?? join(homedir(), '.cache', 'mcp-operator'), 'images', 'operator-inputs.json');

/** Builds the operator image unless the same inputs built the image that is in buildah's storage; its name. */
export async function ensureOperatorImage(root: string, log: (line: string) => void): Promise<string> {
  const digest = operatorInputsDigest(root);
  const file = cacheFile();
  let remembered: Remembered | undefined;
  try {
    remembered = JSON.parse(readFileSync(file, 'utf8')) as Remembered;
  } catch {
    remembered = undefined;
  }
  if (remembered?.digest === digest && (await buildahImageId(remembered.image)) === remembered.id) {
    log(`${remembered.image}: built from these sources already`);
    return remembered.image;
  }
  log('bash scripts/images.sh operator');
  const built = await run('bash', [join(root, 'scripts/images.sh'), 'operator'], { timeoutMs: 3_600_000 });
  const image = built.stdout.trim().split(/\s+/).pop() as string;
  const id = await buildahImageId(image);
  if (id) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify({ digest, image, id })}\n`);
  }
  return image;
}
