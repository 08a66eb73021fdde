/** `mcp-operator <verb>`: one binary: its roles (see DESIGN.md), the local quick start, the catalog. */
import { VERSION } from './defaults.ts';

const USAGE = `mcp-operator ${VERSION}: run MCP servers on Kubernetes

Usage: mcp-operator <command> [flags]

Commands:
  controller   watch McpServers and reconcile their children (health and metrics on :8081)
  gateway      the MCP front door in every server pod (stdio bridge or HTTP proxy)
  render       print the objects the controller would create for a manifest, offline
  up           quick start: the controller on your cluster, or (none configured) the examples on a local node
  catalog      the cluster's MCP servers as an MCP Registry API and a web page
  connect      print a client's config (claude-code, claude-desktop, vscode, cursor, sdk) for a live server

Run 'mcp-operator <command> --help' for its flags.`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'controller': {
      (await import('../kube/slim-client-node.ts')).registerSlimClientNode(); // before the controller's modules load
      const { runController } = await import('./controller.ts');
      // Long-running: once it returns, open sockets must not keep the process alive.
      const code = await runController(rest);
      setImmediate(() => process.exit(code));
      return code;
    }
    case 'gateway': {
      const { runGateway } = await import('../gateway/cli.ts');
      const code = await runGateway(rest);
      setImmediate(() => process.exit(code));
      return code;
    }
    case 'render': {
      const { runRender } = await import('./render.ts');
      return runRender(rest);
    }
    case 'up': {
      const { runUp } = await import('./up.ts');
      const code = await runUp(rest);
      setImmediate(() => process.exit(code));
      return code;
    }
    case 'catalog': {
      const { runCatalog } = await import('./catalog.ts');
      const code = await runCatalog(rest);
      setImmediate(() => process.exit(code));
      return code;
    }
    case 'connect': {
      const { runConnect } = await import('./connect.ts');
      return runConnect(rest);
    }
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return verb === undefined ? 2 : 0;
    default:
      process.stderr.write(`mcp-operator: unknown command ${JSON.stringify(verb)}\n\n${USAGE}\n`);
      return 2;
  }
}

// `mcp-operator render -f x | head`: the reader left. Stop quietly, as other tools do on SIGPIPE; a full disk
// or a closed stdout is one line, never a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`mcp-operator: cannot write the output: ${err.message}\n`);
  process.exit(err.code === 'EPIPE' ? 0 : 1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mcp-operator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
