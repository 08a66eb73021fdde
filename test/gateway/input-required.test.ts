/**
 * Server-to-client requests for 2026-07-28 clients: the shared server's sampling, elicitation and roots requests
 * become multi-round-trip `input_required` results. The real SDK 2.x client (pinned to 2026-07-28) fulfils them
 * through its registered handlers and retries with `inputResponses` and the gateway's `requestState`; the
 * gateway hands the answers to the server's pending requests and the original call, never re-sent, finishes.
 * Servers: the real server-everything, and a small SDK 1.x server whose tools ask twice or ask for two things
 * at once.
 */
import { join } from 'node:path';
import type { ClientCapabilities, InputRequiredResult } from '@modelcontextprotocol/client';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  client2025,
  client2026,
  EVERYTHING,
  metricValue,
  NODE,
  ROOT,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';

const ASK_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/ask-server.ts')];
const CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {} }, roots: {} };
const INPUT_TIMEOUT_S = 3;

let gw: RunningGateway;
let asker: RunningGateway;

beforeAll(async () => {
  // Trusting X-Forwarded-For lets one test process act as several clients (the identity is the address).
  const env = { MCP_GATEWAY_INPUT_TIMEOUT: `${INPUT_TIMEOUT_S}s`, MCP_GATEWAY_TRUST_PROXY: 'true' };
  [gw, asker] = await Promise.all([
    startGateway(['stdio', '--', ...EVERYTHING], { env }),
    startGateway(['stdio', '--', ...ASK_SERVER], { env }),
  ]);
});

afterAll(async () => {
  await stopAll();
});

const sampling = (answer: string, seen: unknown[]) => async (request: { params: unknown }) => {
  seen.push(request.params);
  return { model: 'test-model', role: 'assistant' as const, content: { type: 'text' as const, text: answer } };
};

/** A 2026-07-28 client that answers sampling, elicitation and roots through its registered handlers. */
async function answeringClient(url: string, seen: { sampling: unknown[]; elicitation: unknown[]; roots: number }) {
  const { client } = await client2026(url, { capabilities: CAPABILITIES });
  client.setRequestHandler('sampling/createMessage', sampling('forty-two', seen.sampling));
  client.setRequestHandler('elicitation/create', async (request) => {
    seen.elicitation.push(request.params);
    return { action: 'accept', content: { name: 'Ada Lovelace' } };
  });
  client.setRequestHandler('roots/list', async () => {
    seen.roots++;
    return { roots: [{ uri: 'file:///work/project', name: 'project' }] };
  });
  return client;
}

/** A client in manual mode: input_required results come back to the caller instead of being fulfilled. */
async function manualClient(url: string, address: string) {
  const { client } = await client2026(url, {
    capabilities: CAPABILITIES,
    autoFulfill: false,
    headers: { 'x-forwarded-for': address },
  });
  return client;
}

type CallParams = Parameters<Awaited<ReturnType<typeof client2026>>['client']['callTool']>[0];

/** A manual retry: the call's params plus the multi-round-trip fields (absent from the SDK's param type). */
function retry(params: CallParams, fields: { inputResponses?: Record<string, unknown>; requestState?: string }) {
  return { ...params, ...fields } as CallParams;
}

function rejection(promise: Promise<unknown>): Promise<{ code?: number; message: string }> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: { code?: number; message: string }) => err,
  );
}

/** The tool's audit lines once `count` of them have `outcome` (log lines reach us a little after the answer). */
async function auditLines(g: RunningGateway, tool: string, outcome: string, count = 1) {
  await waitForAudit(g, (a) => a.tool === tool && a.outcome === outcome);
  const lines = () => g.logs.filter((l) => (l.audit as { tool?: string } | undefined)?.tool === tool);
  const matching = () => lines().filter((l) => (l.audit as { outcome?: string }).outcome === outcome).length;
  await until(() => matching() >= count, 5_000, `${count} audit lines for ${tool}`).catch(() => undefined);
  return lines();
}

describe('2026-07-28 clients answer server requests through input_required', () => {
  test('sampling and elicitation from server-everything reach the client handlers; the call reaches the server once', async () => {
    const seen = { sampling: [] as unknown[], elicitation: [] as unknown[], roots: 0 };
    const client = await answeringClient(gw.url, seen);

    const sampled = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'the meaning of life', maxTokens: 5 },
    });
    expect(seen.sampling).toHaveLength(1);
    expect(JSON.stringify(seen.sampling[0])).toContain('the meaning of life');
    expect(textOf(sampled)).toContain('LLM sampling result');
    expect(textOf(sampled)).toContain('forty-two');

    const elicited = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(seen.elicitation).toHaveLength(1);
    expect((seen.elicitation[0] as { message: string }).message).toContain('Please provide inputs');
    expect(textOf(elicited)).toContain('User provided the requested information');
    expect(textOf(elicited)).toContain('Ada Lovelace');

    // One call each at the server (the retry continues it, nothing is re-sent), each audited once as ok.
    expect(await auditLines(gw, 'trigger-sampling-request', 'ok')).toHaveLength(1);
    expect(await auditLines(gw, 'trigger-elicitation-request', 'ok')).toHaveLength(1);
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'trigger-sampling-request' })).toBe(1);
    await client.close();
  });

  test('a server that asks again gets a second round; requests sent together are all answered', async () => {
    const seen = { sampling: [] as unknown[], elicitation: [] as unknown[], roots: 0 };
    const client = await answeringClient(asker.url, seen);
    const rounds: string[][] = [];
    const observed = await client2026(asker.url, { capabilities: CAPABILITIES, autoFulfill: false });

    // Manual mode shows the rounds the auto-fulfilling client goes through.
    const twice = { name: 'ask-twice', arguments: {} };
    const first = (await observed.client.callTool(twice, {
      allowInputRequired: true,
    })) as unknown as InputRequiredResult;
    expect(first.resultType).toBe('input_required');
    rounds.push(Object.values(first.inputRequests ?? {}).map((r) => r.method));
    const [key] = Object.keys(first.inputRequests ?? {});
    const second = (await observed.client.callTool(
      retry(twice, {
        inputResponses: { [key as string]: { action: 'accept', content: { name: 'Grace' } } },
        requestState: first.requestState,
      }),
      { allowInputRequired: true },
    )) as unknown as InputRequiredResult;
    expect(second.resultType).toBe('input_required');
    expect(second.requestState).not.toBe(first.requestState);
    rounds.push(Object.values(second.inputRequests ?? {}).map((r) => r.method));
    expect(rounds).toEqual([['elicitation/create'], ['sampling/createMessage']]);
    expect(JSON.stringify(second.inputRequests)).toContain('Greet Grace');

    // The first round's state is spent: an old round cannot be replayed.
    const stale = await rejection(observed.client.callTool(retry(twice, { requestState: first.requestState })));
    expect(stale.code).toBe(-32602);
    expect(stale.message).toMatch(/requestState/);
    const [key2] = Object.keys(second.inputRequests ?? {});
    const done = await observed.client.callTool(
      retry(twice, {
        inputResponses: { [key2 as string]: { model: 'm', role: 'assistant', content: { type: 'text', text: 'hi' } } },
        requestState: second.requestState,
      }),
    );
    expect(textOf(done)).toBe('Grace / hi');

    // The SDK client drives the same rounds on its own.
    const auto = await client.callTool(twice);
    expect(textOf(auto)).toBe('Ada Lovelace / forty-two');
    expect(seen.elicitation).toHaveLength(1);
    expect(JSON.stringify(seen.sampling[0])).toContain('Greet Ada Lovelace');

    // roots/list and sampling written at once (Promise.all) are both asked for (one round, unless the second
    // misses the gathering window and comes in the next) and both answers reach the server.
    const askTogether = { name: 'ask-together', arguments: {} };
    const answers: Record<string, unknown> = {
      'roots/list': { roots: [{ uri: 'file:///manual' }] },
      'sampling/createMessage': { model: 'm', role: 'assistant', content: { type: 'text', text: 'manual' } },
    };
    const asked: string[] = [];
    let state: string | undefined;
    let responses: Record<string, unknown> | undefined;
    for (let round = 1; ; round++) {
      const outcome = await observed.client.callTool(
        state === undefined ? askTogether : retry(askTogether, { inputResponses: responses, requestState: state }),
        { allowInputRequired: true },
      );
      if ((outcome as { resultType?: string }).resultType !== 'input_required') {
        expect(textOf(outcome)).toBe('roots=file:///manual sample=manual');
        break;
      }
      const result = outcome as unknown as InputRequiredResult;
      expect(round).toBeLessThanOrEqual(2);
      state = result.requestState;
      responses = {};
      for (const [key, request] of Object.entries(result.inputRequests ?? {})) {
        asked.push(request.method);
        responses[key] = answers[request.method];
      }
    }
    expect(asked.sort()).toEqual(['roots/list', 'sampling/createMessage']);
    const both = await client.callTool(askTogether);
    expect(textOf(both)).toBe('roots=file:///work/project sample=forty-two');
    expect(seen.roots).toBe(1);
    expect(await auditLines(asker, 'ask-twice', 'ok', 2)).toHaveLength(2);
    await Promise.all([client.close(), observed.client.close()]);
  });

  test('a forged, altered, foreign or spent requestState is refused with invalid params naming requestState', async () => {
    const bogus = await manualClient(gw.url, '198.51.100.1');
    const forged = await rejection(
      bogus.callTool(retry({ name: 'echo', arguments: { message: 'x' } }, { requestState: 'made-up-state' })),
    );
    expect(forged.code).toBe(-32602);
    expect(forged.message).toMatch(/^Invalid requestState/);

    const owner = await manualClient(gw.url, '198.51.100.2');
    const other = await manualClient(gw.url, '198.51.100.3');
    const call = { name: 'trigger-sampling-request', arguments: { prompt: 'state', maxTokens: 5 } };
    const asked = (await owner.callTool(call, { allowInputRequired: true })) as unknown as InputRequiredResult;
    expect(asked.resultType).toBe('input_required');
    const state = asked.requestState as string;
    expect(state.length).toBeGreaterThan(40);
    const [key, request] = Object.entries(asked.inputRequests ?? {})[0] ?? [];
    expect(request?.method).toBe('sampling/createMessage');

    const altered = `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`;
    const tampered = await rejection(owner.callTool(retry(call, { requestState: altered })));
    expect(tampered.code).toBe(-32602);
    expect(tampered.message).toMatch(/^Invalid requestState: it was not issued by this gateway or was altered/);

    const answer = { model: 'm', role: 'assistant', content: { type: 'text', text: 'owner answer' } };
    const foreign = await rejection(
      other.callTool(retry(call, { inputResponses: { [key as string]: answer }, requestState: state })),
    );
    expect(foreign.code).toBe(-32602);
    expect(foreign.message).toBe('Invalid requestState: it was issued to another client');

    const wrongTool = await rejection(
      owner.callTool(retry({ name: 'echo', arguments: { message: 'x' } }, { requestState: state })),
    );
    expect(wrongTool.message).toMatch(/requestState: it belongs to a different request/);

    // None of that consumed the flow: the owner continues it.
    const done = await owner.callTool(
      retry(call, { inputResponses: { [key as string]: answer }, requestState: state }),
    );
    expect(textOf(done)).toContain('owner answer');
    const spent = await rejection(owner.callTool(retry(call, { requestState: state })));
    expect(spent.code).toBe(-32602);
    expect(spent.message).toMatch(/^Unknown requestState/);
    await Promise.all([bogus.close(), owner.close(), other.close()]);
  });

  test('a 2026 client that did not declare the capability gets the refusal as the tool result', async () => {
    const { client } = await client2026(gw.url, { capabilities: { elicitation: { form: {} } } });
    const result = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'no sampling here', maxTokens: 5 },
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('did not declare the sampling capability');
    await client.close();
  });

  test('2025 session clients still receive ordinary server-to-client requests', async () => {
    const seen: unknown[] = [];
    const { client } = await client2025(gw.url, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, sampling('from a 2025 session', seen));
    const result = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'old school', maxTokens: 5 },
    });
    expect(seen).toHaveLength(1);
    expect(textOf(result)).toContain('from a 2025 session');
    await client.close();
  });

  test('a client that never retries: the server request fails after the input timeout and the call is cancelled', async () => {
    const client = await manualClient(gw.url, '198.51.100.9');
    const call = { name: 'trigger-elicitation-request', arguments: {} };
    const asked = (await client.callTool(call, { allowInputRequired: true })) as unknown as InputRequiredResult;
    expect(asked.resultType).toBe('input_required');
    const audit = await waitForAudit(gw, (a) => a.tool === 'trigger-elicitation-request' && a.outcome !== 'ok');
    expect(audit.outcome).toBe('input_timeout');
    expect(audit.client).toBe('ip:198.51.100.9');
    expect(
      await metricValue(gw, 'mcp_gateway_tool_calls_total', {
        tool: 'trigger-elicitation-request',
        outcome: 'input_timeout',
      }),
    ).toBe(1);
    const late = await rejection(client.callTool(retry(call, { requestState: asked.requestState })));
    expect(late.code).toBe(-32602);
    expect(late.message).toMatch(/^(Unknown|Expired) requestState/);
    await client.close();
  });

  test('nothing is left in flight: the drain finds no call waiting', async () => {
    for (const g of [gw, asker]) {
      expect(await g.stop()).toBe(0);
      const draining = g.logs.find((l) => l.msg === 'draining');
      expect(draining?.inflight).toBe(0);
    }
  });
});
