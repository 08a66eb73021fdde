/**
 * `mcp-operator gateway stdio -- CMD ARGS...` | `mcp-operator gateway proxy --upstream URL`, plus the runtime
 * verbs `install-runtime --to DIR` (the operator's init container) and `build-runtime --out DIR` (image build).
 * Exit codes: 0 after a graceful drain, 1 when the gateway cannot start, 2 for bad command-line input.
 */
import { GATEWAY_VERBS, RUNTIME_DIR_FLAG } from '../contract/gateway.ts';
import { ConfigError, type GatewayConfig, parseConfig, USAGE } from './config.ts';
import { Gateway, type GatewayOptions } from './gateway.ts';

/** `install-runtime --to DIR` / `build-runtime --out DIR`. */
async function runtimeVerb(verb: keyof typeof RUNTIME_DIR_FLAG, rest: string[]): Promise<number> {
  const flag = RUNTIME_DIR_FLAG[verb];
  let dir: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    if (arg === flag) dir = rest[++i];
    else if (arg.startsWith(`${flag}=`)) dir = arg.slice(flag.length + 1);
    else {
      process.stderr.write(`mcp-operator gateway ${verb}: ${arg}: unknown flag\n`);
      return 2;
    }
  }
  if (!dir) {
    process.stderr.write(`mcp-operator gateway ${verb}: ${flag}: a directory is required\n`);
    return 2;
  }
  const { buildRuntime, installRuntime } = await import('./runtime.ts');
  try {
    const path =
      verb === GATEWAY_VERBS.installRuntime
        ? await installRuntime(dir)
        : await buildRuntime(dir, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(`${path}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`mcp-operator gateway ${verb}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

export async function runGateway(argv: string[], options: GatewayOptions = {}): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === GATEWAY_VERBS.installRuntime || argv[0] === GATEWAY_VERBS.buildRuntime) {
    return runtimeVerb(argv[0], argv.slice(1));
  }
  let config: GatewayConfig;
  try {
    config = parseConfig(argv, options.env ?? process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mcp-operator gateway: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  const gateway = new Gateway(config, options);
  const flush = () => new Promise<void>((resolve) => gateway.log.flush(() => resolve()));
  try {
    await gateway.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    gateway.log.fatal({ err: message }, 'gateway failed to start');
    process.stderr.write(`mcp-operator gateway: ${message}\n`);
    await gateway.drain().catch(() => {});
    await flush();
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      gateway.log.info({ signal }, 'signal received');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await gateway.drain();
  await flush();
  return 0;
}
