/** Placeholder until the gateway lands: `mcp-operator gateway ...`. */
export async function runGateway(argv: string[]): Promise<number> {
  process.stderr.write(`gateway: not implemented yet (${argv.join(' ')})\n`);
  return 2;
}
