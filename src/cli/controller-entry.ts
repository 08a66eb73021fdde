/**
 * The bundled controller's entry (src/cli/controller-bundle.ts): `mcp-operator controller [flags]` as
 * src/cli/main.ts runs it, without the other verbs. argv: [node, bin, 'controller', ...flags].
 */
import { runController } from './controller.ts';

runController(process.argv.slice(3)).then(
  // Long-running: once it returns, open sockets must not keep the process alive.
  (code) => setImmediate(() => process.exit(code)),
  (err: unknown) => {
    process.stderr.write(`mcp-operator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
