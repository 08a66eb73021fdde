/** The gateway's version: the package's, or the one the bundle for the self-contained runtime bakes in. */
import { readFileSync } from 'node:fs';

/** Replaced at bundle time for the self-contained runtime (runtime.ts), which has no package.json. */
declare const __MCP_GATEWAY_VERSION__: string | undefined;

export const GATEWAY_VERSION: string = (() => {
  if (typeof __MCP_GATEWAY_VERSION__ === 'string') return __MCP_GATEWAY_VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
