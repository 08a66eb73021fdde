/** Standalone entry: `node src/gateway/main.ts stdio -- CMD ...` (the package's CLI routes `gateway` here too). */
import { runGateway } from './cli.ts';

process.exit(await runGateway(process.argv.slice(2)));
