/**
 * `mcp-operator gateway stdio -- CMD ARGS...` | `mcp-operator gateway proxy --upstream URL`.
 * Exit codes: 0 after a graceful drain, 1 when the gateway cannot start, 2 for bad command-line input.
 */
import { ConfigError, type GatewayConfig, parseConfig, USAGE } from './config.ts';
import { Gateway, type GatewayOptions } from './gateway.ts';

export async function runGateway(argv: string[], options: GatewayOptions = {}): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
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
