/** Tool allow/deny lists (names or globs) and per-tool rate limits; the mux takes it as its MuxPolicy. */

import { toolMatcher } from '../../contract/tool-patterns.ts';
import type { RateLimiter } from './ratelimit.ts';

export class ToolPolicy {
  /** Tool names or globs (`*`, `?`); undefined: every tool not denied. */
  private readonly allow: ((name: string) => boolean) | undefined;
  private readonly deny: (name: string) => boolean;
  private readonly perTool: Map<string, number>;
  private readonly limiter: RateLimiter;
  readonly filtersTools: boolean;

  constructor(options: { allow: string[]; deny: string[]; perTool: Map<string, number>; limiter: RateLimiter }) {
    this.allow = options.allow.length > 0 ? toolMatcher(options.allow) : undefined;
    this.deny = toolMatcher(options.deny);
    this.perTool = options.perTool;
    this.limiter = options.limiter;
    this.filtersTools = options.allow.length > 0 || options.deny.length > 0;
  }

  /** Deny wins over allow; an empty allow list allows everything not denied. */
  toolAllowed(name: string): boolean {
    if (this.deny(name)) return false;
    return this.allow === undefined || this.allow(name);
  }

  toolRetryAfterMs(identity: string, tool: string): number {
    const limit = this.perTool.get(tool);
    if (limit === undefined) return 0;
    return this.limiter.take(`tool\u0000${identity}\u0000${tool}`, limit);
  }
}
