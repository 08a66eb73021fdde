/**
 * The 2026-07-28 leg needs the 2.x SDK's server package (about 40 MB of resident memory), so it is loaded on
 * the first request that looks modern. Session-era traffic never pays for it.
 */
import type { JsonRpcNotification } from '../jsonrpc.ts';
import type { ModernEndpoint, ModernOptions } from './modern.ts';

export class LazyModern {
  private loading?: Promise<ModernEndpoint>;
  private endpoint?: ModernEndpoint;
  private readonly options: ModernOptions;

  constructor(options: ModernOptions) {
    this.options = options;
  }

  get loaded(): boolean {
    return this.endpoint !== undefined;
  }

  load(): Promise<ModernEndpoint> {
    this.loading ??= import('./modern.ts').then((m) => {
      this.endpoint = new m.ModernEndpoint(this.options);
      return this.endpoint;
    });
    return this.loading;
  }

  serverEvent(note: JsonRpcNotification): void {
    this.endpoint?.serverEvent(note);
  }

  async close(): Promise<void> {
    await this.endpoint?.close();
  }
}
