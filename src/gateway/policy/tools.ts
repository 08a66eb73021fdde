/** Tool allow/deny lists and per-tool rate limits, as the router consumes them. */
import type { RouterPolicy } from '../router.ts';
import type { RateLimiter } from './ratelimit.ts';

export class ToolPolicy implements RouterPolicy {
  private readonly allow: Set<string> | undefined;
  private readonly deny: Set<string>;
  private readonly perTool: Map<string, number>;
  private readonly limiter: RateLimiter;
  readonly filtersTools: boolean;

  constructor(options: { allow: string[]; deny: string[]; perTool: Map<string, number>; limiter: RateLimiter }) {
    this.allow = options.allow.length > 0 ? new Set(options.allow) : undefined;
    this.deny = new Set(options.deny);
    this.perTool = options.perTool;
    this.limiter = options.limiter;
    this.filtersTools = this.allow !== undefined || this.deny.size > 0;
  }

  /** Deny wins over allow; an empty allow list allows everything not denied. */
  toolAllowed(name: string): boolean {
    if (this.deny.has(name)) return false;
    return this.allow === undefined || this.allow.has(name);
  }

  toolRetryAfterMs(identity: string, tool: string): number {
    const limit = this.perTool.get(tool);
    if (limit === undefined) return 0;
    return this.limiter.take(`tool\u0000${identity}\u0000${tool}`, limit);
  }
}
