/**
 * The 2026-07-28 leg needs the 2.x SDK's server package (about 40 MB of resident memory), so it is loaded on
 * the first request that looks like 2026-07-28 traffic. Session-era traffic never pays for it.
 */
import type { JsonRpcNotification } from '../protocol/jsonrpc.ts';
import type { Sdk2026Endpoint, Sdk2026Options } from './sdk-2026.ts';

export class LazySdk2026 {
  private loading?: Promise<Sdk2026Endpoint>;
  private endpoint?: Sdk2026Endpoint;
  private readonly options: Sdk2026Options;

  constructor(options: Sdk2026Options) {
    this.options = options;
  }

  get loaded(): boolean {
    return this.endpoint !== undefined;
  }

  load(): Promise<Sdk2026Endpoint> {
    this.loading ??= import('./sdk-2026.ts').then((m) => {
      this.endpoint = new m.Sdk2026Endpoint(this.options);
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
