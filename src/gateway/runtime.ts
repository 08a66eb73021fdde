/**
 * The self-contained gateway runtime that the operator's init container copies into a stdio server's pod:
 * one executable, `mcp-gateway`, that is Node itself with the bundled gateway embedded (a Node single
 * executable application), so the server's image needs no Node and no shell, only glibc.
 *
 *   mcp-operator gateway build-runtime --out DIR    # at image build time (needs the dev dependencies)
 *   mcp-operator gateway install-runtime --to DIR   # in the init container: copies the prebuilt binary
 */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RUNTIME_NAME = 'mcp-gateway';
/** Beside the runtime: the C++ runtime libraries Node links, for images that have glibc and nothing else. */
const RUNTIME_LIB_DIR = 'lib';
const BUNDLED_LIBS = ['libstdc++.so.6', 'libgcc_s.so.1'];
// Assembled at run time: the literal must not appear in the bundle, which is embedded in the same binary.
const SEA_FUSE = ['NODE', 'SEA', 'FUSE', 'fce680ab2cc467b6e072b8b5df1996b2'].join('_');
const packageRoot = () => fileURLToPath(new URL('../..', import.meta.url));

/**
 * V8 flags baked into the runtime (the SEA's execArgv; NODE_OPTIONS still adds to them). None by default:
 * `--max-semi-space-size=1` cuts the RSS at 1,000 idle sessions by about 20 MB but cost 13-17% of calls/s in a
 * side-by-side run (bench/RESULTS.md); `=2`: 113 -> 99 MB, at 0.86-1.00 of the calls/s under the bench lock.
 */
export const RUNTIME_EXEC_ARGV: string[] = [];

/** Where the image keeps the prebuilt runtime (MCP_GATEWAY_RUNTIME_SOURCE overrides). */
export function defaultRuntimeSource(env: NodeJS.ProcessEnv = process.env): string {
  return env.MCP_GATEWAY_RUNTIME_SOURCE ?? join(packageRoot(), 'dist', RUNTIME_NAME);
}

/**
 * Modules of dependencies that the gateway never calls and that load Node built-ins at startup (https, zlib,
 * worker_threads, module): replaced in the bundle by a function that throws if it ever is called. With the
 * lazy http2 below, about 9 MB less RSS in every gateway process.
 */
const UNUSED_MODULES: Array<{ test: RegExp; what: string }> = [
  { test: /[\\/]prom-client[\\/]lib[\\/]pushgateway\.js$/, what: "prom-client's Pushgateway" },
  { test: /[\\/]pino[\\/]lib[\\/]transport\.js$/, what: "pino's worker-thread transports" },
];
/**
 * Built-ins that only lazily loaded parts of the bundle import (http2: the 2026-07-28 leg's HTTP adapter). The
 * bundler hoists a built-in's require to the top of the file; through this shim it runs on first use instead.
 */
const LAZY_BUILTINS = new Set(['http2']);
const LAZY_PREFIX = '\0lazy-builtin:';

const slimRuntime = {
  name: 'mcp-gateway-slim-runtime',
  resolveId(source: string): string | null {
    const name = source.replace(/^node:/, '');
    return LAZY_BUILTINS.has(name) ? `${LAZY_PREFIX}${name}` : null;
  },
  load(id: string): string | null {
    if (id.startsWith(LAZY_PREFIX)) {
      return `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${id.slice(LAZY_PREFIX.length)}`)});`;
    }
    const unused = UNUSED_MODULES.find((m) => m.test.test(id));
    if (!unused) return null;
    const message = JSON.stringify(`${unused.what} is not part of the gateway runtime`);
    return `module.exports = function unused() { throw new Error(${message}); };`;
  },
};

/** Bundles the gateway into one CommonJS file and embeds it into a copy of this Node binary. */
export async function buildRuntime(
  outDir: string,
  log: (line: string) => void = () => {},
  options: { execArgv?: string[] } = {},
): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'mcp-gateway-build-'));
  try {
    const root = packageRoot();
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version?: string };
    const bundle = join(work, 'gateway.cjs');
    const { build } = await import('rolldown');
    await build({
      input: join(root, 'src/gateway/sea-main.ts'),
      platform: 'node',
      logLevel: 'warn',
      // Build-time tools stay out of the runtime (build-runtime is not meant to run from it).
      external: ['rolldown', 'postject'],
      plugins: [slimRuntime],
      transform: { define: { __MCP_GATEWAY_VERSION__: JSON.stringify(pkg.version ?? '0.0.0') } },
      // V8 keeps the whole script's source in the heap, two bytes a character if one character is not ASCII: an
      // ASCII bundle without comments or whitespace takes a third of it. Names stay, for readable stack traces.
      output: {
        format: 'cjs',
        file: bundle,
        codeSplitting: false,
        charset: 'ascii',
        comments: false,
        minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
      },
    });
    log(`bundled ${bundle} (${(await stat(bundle)).size} bytes)`);
    const blob = join(work, 'sea.blob');
    await writeFile(
      join(work, 'sea-config.json'),
      JSON.stringify({
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        useCodeCache: false,
        execArgv: options.execArgv ?? RUNTIME_EXEC_ARGV,
      }),
    );
    const sea = spawnSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], {
      encoding: 'utf8',
    });
    if (sea.status !== 0) throw new Error(`node --experimental-sea-config failed: ${sea.stderr}`);
    const exe = join(work, RUNTIME_NAME);
    await copyFile(process.execPath, exe);
    await chmod(exe, 0o755);
    const postject = (await import('postject' as string)) as {
      inject(file: string, name: string, data: Buffer, options: { sentinelFuse: string }): Promise<void>;
    };
    await postject.inject(exe, 'NODE_SEA_BLOB', await readFile(blob), { sentinelFuse: SEA_FUSE });
    // After injection: postject rewrites the ELF with LIEF, which would lose an earlier RUNPATH edit.
    const libs = await bundleCxxRuntime(exe, outDir, log);
    await mkdir(outDir, { recursive: true });
    const target = join(outDir, RUNTIME_NAME);
    await copyFile(exe, `${target}.tmp`);
    await chmod(`${target}.tmp`, 0o755);
    await rename(`${target}.tmp`, target);
    log(`wrote ${target}${libs.length ? ` and ${libs.join(', ')}` : ''}`);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Node links libstdc++ and libgcc_s dynamically, and glibc-only images (distroless/base) lack them. With patchelf
 * present, the runtime gets RUNPATH `$ORIGIN/lib` and copies of the two libraries beside it, so it needs nothing
 * from the server image but glibc (>= 2.28). Without patchelf, it is left as is (and logged).
 */
async function bundleCxxRuntime(exe: string, outDir: string, log: (line: string) => void): Promise<string[]> {
  const patchelf = spawnSync('patchelf', ['--set-rpath', `$ORIGIN/${RUNTIME_LIB_DIR}`, exe], { encoding: 'utf8' });
  if (patchelf.error || patchelf.status !== 0) {
    log(
      `patchelf unavailable (${patchelf.error?.message ?? patchelf.stderr.trim()}): the runtime will need libstdc++ in the server image`,
    );
    return [];
  }
  const ldd = spawnSync('ldd', [process.execPath], { encoding: 'utf8' });
  const found = new Map<string, string>();
  for (const line of ldd.stdout?.split('\n') ?? []) {
    const m = /^\s*(libstdc\+\+\.so\.6|libgcc_s\.so\.1) => (\S+)/.exec(line);
    if (m?.[1] && m[2]) found.set(m[1], m[2]);
  }
  const libDir = join(outDir, RUNTIME_LIB_DIR);
  await mkdir(libDir, { recursive: true });
  for (const name of BUNDLED_LIBS) {
    const path = found.get(name);
    if (!path) throw new Error(`ldd ${process.execPath} did not resolve ${name}:\n${ldd.stdout}${ldd.stderr}`);
    await copyFile(path, join(libDir, name));
  }
  return BUNDLED_LIBS.map((name) => join(libDir, name));
}

/** Copies the prebuilt runtime into `to` (an emptyDir), atomically, executable by any user. */
export async function installRuntime(to: string, source = defaultRuntimeSource()): Promise<string> {
  try {
    await stat(source);
  } catch {
    throw new Error(
      `no prebuilt gateway runtime at ${source}; build it with \`mcp-operator gateway build-runtime --out ${dirname(source)}\``,
    );
  }
  await mkdir(to, { recursive: true });
  const sourceLibs = join(dirname(source), RUNTIME_LIB_DIR);
  for (const name of BUNDLED_LIBS) {
    const lib = join(sourceLibs, name);
    if (!(await stat(lib).catch(() => undefined))) continue;
    await mkdir(join(to, RUNTIME_LIB_DIR), { recursive: true });
    await copyFile(lib, join(to, RUNTIME_LIB_DIR, `${name}.tmp`));
    await rename(join(to, RUNTIME_LIB_DIR, `${name}.tmp`), join(to, RUNTIME_LIB_DIR, name));
  }
  // The executable last: once it exists, its libraries do.
  const target = join(to, RUNTIME_NAME);
  await copyFile(source, `${target}.tmp`);
  await chmod(`${target}.tmp`, 0o755);
  await rename(`${target}.tmp`, target);
  return target;
}
