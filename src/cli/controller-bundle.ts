/**
 * The controller as the operator image runs it: one CommonJS file (rolldown) with only the modules the controller
 * loads. No TypeScript at run time (Node's type stripping loads a wasm transformer), no client-node generated
 * index (config.js gets its two factories, as src/kube/slim-client-node.ts does for the sources), no Pushgateway
 * or pino worker transports. Measured by `npm run bench -- controller` (bench/RESULTS.md).
 *
 *   node src/cli/controller-bundle.ts --out dist/controller.cjs   # at image build time (needs rolldown)
 *
 * bin/mcp-operator.js runs it for `controller` when MCP_OPERATOR_CONTROLLER_BUNDLE names it (the image's ENV);
 * `node src/cli/main.ts controller` keeps running the sources.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_GEN_IMPORTS } from '../kube/slim-client-node.ts';

/** The variable bin/mcp-operator.js reads: the bundle's path (the Dockerfile sets it). */
export const CONTROLLER_BUNDLE_ENV = 'MCP_OPERATOR_CONTROLLER_BUNDLE';

const CONFIG_JS = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/;
const SLIM_GEN = '\0slim-client-node-gen';
/**
 * undici, which client-node imports for its generated API's transport (config.js's dispatchers, the fetch of
 * gen/http/isomorphic-fetch.js): the controller's client (src/kube/http.ts) uses neither, and undici's JavaScript
 * and WebAssembly HTTP parser cost about 25 MiB.
 */
const CLIENT_NODE = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]/;
const NO_UNDICI = '\0no-undici';
/** Dependency modules the controller never calls that load Node built-ins at startup: a throwing stub instead. */
const UNUSED_MODULES: Array<{ test: RegExp; what: string }> = [
  { test: /[\\/]prom-client[\\/]lib[\\/]pushgateway\.js$/, what: "prom-client's Pushgateway" },
  { test: /[\\/]pino[\\/]lib[\\/]transport\.js$/, what: "pino's worker-thread transports" },
];

const slimController = {
  name: 'mcp-operator-slim-controller',
  resolveId(source: string, importer: string | undefined): string | null {
    if (source === './gen/index.js' && importer && CONFIG_JS.test(importer)) {
      return `${SLIM_GEN}:${join(dirname(importer), 'gen')}`;
    }
    if (source === 'undici' && importer && CLIENT_NODE.test(importer)) return NO_UNDICI;
    return null;
  },
  load(id: string): string | null {
    if (id.startsWith(`${SLIM_GEN}:`)) {
      const gen = id.slice(SLIM_GEN.length + 1);
      return Object.entries(CONFIG_GEN_IMPORTS)
        .map(([name, file]) => `export { ${name} } from ${JSON.stringify(join(gen, file))};`)
        .join('\n');
    }
    if (id === NO_UNDICI) {
      const refuse = (name: string) =>
        `export class ${name} { constructor() { throw new Error("undici's ${name} is not part of the controller bundle"); } }`;
      const fetch = `export function fetch() { throw new Error("undici's fetch is not part of the controller bundle"); }`;
      return [refuse('Agent'), refuse('ProxyAgent'), fetch].join('\n');
    }
    const unused = UNUSED_MODULES.find((m) => m.test.test(id));
    if (!unused) return null;
    const message = JSON.stringify(`${unused.what} is not part of the controller bundle`);
    return `module.exports = function unused() { throw new Error(${message}); };`;
  },
};

/** Bundles src/cli/controller-entry.ts into `outFile`; returns its size in bytes. */
export async function buildControllerBundle(outFile: string): Promise<number> {
  const { build } = await import('rolldown');
  await build({
    input: join(import.meta.dirname, 'controller-entry.ts'),
    platform: 'node',
    logLevel: 'warn',
    plugins: [slimController],
    // V8 keeps the script's source in the heap: ASCII, no comments or whitespace. Names stay for stack traces.
    output: {
      format: 'cjs',
      file: outFile,
      codeSplitting: false,
      charset: 'ascii',
      comments: false,
      minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
    },
  });
  return (await stat(outFile)).size;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/controller.cjs' } } });
  const out = values.out as string;
  const size = await buildControllerBundle(out);
  process.stdout.write(`bundled the controller into ${out} (${size} bytes)\n`);
}
