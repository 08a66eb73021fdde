/**
 * Entry of the self-contained gateway runtime (a Node single executable application): `mcp-gateway stdio -- CMD`.
 * Built by build-runtime.ts; copied into the pod by `mcp-operator gateway install-runtime`.
 */
import { runGateway } from './cli.ts';

runGateway(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`mcp-gateway: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
