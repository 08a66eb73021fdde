/** Placeholder: the quick start (issue 4). */
export async function runUp(_argv: string[]): Promise<number> {
  process.stderr.write('up: not implemented yet\n');
  return 2;
}
