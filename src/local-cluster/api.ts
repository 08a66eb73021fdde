/** A minimal Kubernetes API client for the node cluster and its tests (bearer token, the server's self-signed cert). */
import { Agent, fetch } from 'undici';

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export class Api {
  private readonly dispatcher = new Agent({ connect: { rejectUnauthorized: false } });

  readonly server: string;
  private readonly token: string;

  constructor(server: string, token: string) {
    this.server = server;
    this.token = token;
  }

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.server}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.dispatcher,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text (healthz, readyz)
    }
    return { status: res.status, body: parsed as T };
  }

  /** GET that throws on anything but 200. */
  async get<T = Record<string, unknown>>(path: string): Promise<T> {
    const res = await this.request<T>('GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Server-side apply (force) of one object at its path. */
  async apply<T = Record<string, unknown>>(path: string, object: unknown): Promise<T> {
    const res = await this.request<T>(
      'PATCH',
      `${path}?fieldManager=mcp-operator-e2e&force=true`,
      object,
      'application/apply-patch+yaml',
    );
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`apply ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** The condition `type` of an object's status, if any. */
export function condition(object: unknown, type: string): Condition | undefined {
  const conditions = (object as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions;
  return conditions?.find((c) => c.type === type);
}
