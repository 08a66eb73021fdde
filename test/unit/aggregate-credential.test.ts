/**
 * The credential an aggregate presents to a backend with auth on: minted from the backend's session key,
 * verified by it, expiring, and carrying the end client only from an aggregate (the mux strips anyone else's).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import {
  credentialExpiry,
  mintCredential,
  msUntilRenewal,
  ON_BEHALF_OF_META,
  RENEW_INTERVAL_S,
  verifyCredential,
} from '../../src/contract/aggregate-credential.ts';
import { type Call, sentParams } from '../../src/gateway/mux/call.ts';
import { AggregateCredentialAuthenticator, SessionKeyFile } from '../../src/gateway/policy/aggregate-auth.ts';
import type { Authenticator } from '../../src/gateway/policy/auth.ts';
import { createLogger } from '../../src/observability/log.ts';
import { renderBackendCredentials } from '../../src/render/virtual-credentials.ts';
import { type Harness, harness, session } from './mux-helpers.ts';

const KEY = randomBytes(32);
const NOW = 1_800_000_000;
const claims = { namespace: 'team', aggregate: 'tools', backend: 'github', expiresAt: NOW + 3600 };

describe('mint and verify', () => {
  test('a minted credential verifies with its key, until it expires', () => {
    const token = mintCredential(KEY, claims);
    expect(verifyCredential(KEY, token, NOW)).toEqual({ ok: true, claims });
    expect(verifyCredential(KEY, token, NOW + 3600)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyCredential(randomBytes(32), token, NOW)).toMatchObject({ ok: false, reason: /signature mismatch/ });
  });

  test('any change to a credential is refused (property)', () => {
    const token = mintCredential(KEY, claims);
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }), (at, insert) => {
        const changed = token.slice(0, at) + insert + token.slice(at + 1);
        fc.pre(changed !== token);
        expect(verifyCredential(KEY, changed, NOW).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  test('a signature whose last character differs only in its spare bits is refused', () => {
    const token = mintCredential(KEY, claims);
    const last = token.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 32 bytes are 43 characters: the last holds 2 bits and 4 spare ones, so 16 characters decode alike.
    const twin = [...alphabet].find((c) => c !== last && alphabet.indexOf(c) >> 4 === alphabet.indexOf(last) >> 4);
    expect(verifyCredential(KEY, token.slice(0, -1) + twin, NOW).ok).toBe(false);
  });

  test('arbitrary strings never verify and never throw (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        expect(verifyCredential(KEY, `mcpagg1.${s}`, NOW).ok).toBe(false);
      }),
    );
  });

  test('a discovery credential is the operator’s own identity, not an aggregate’s', async () => {
    const token = mintCredential(KEY, { ...claims, role: 'discovery' });
    expect(verifyCredential(KEY, token, NOW)).toEqual({ ok: true, claims: { ...claims, role: 'discovery' } });
    const auth = new AggregateCredentialAuthenticator({
      users: { authenticate: async () => ({ ok: false, description: 'no' }) },
      sessionKeys: async () => [KEY],
      log: createLogger({ name: 'test', level: 'silent' }),
      nowSeconds: () => NOW,
    });
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({ ok: true, identity: 'operator:discovery' });
  });

  test('a credential with claims of the wrong types is malformed, even signed', () => {
    // Signed with the key but built by hand: the payload's fields must still be what the operator writes.
    const token = mintCredential(KEY, { ...claims, expiresAt: Number.NaN });
    expect(verifyCredential(KEY, token, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  test('one window mints one credential, valid 12 to 24 hours; renewal comes at the window’s end', () => {
    const start = 100 * RENEW_INTERVAL_S;
    expect(credentialExpiry(start)).toBe(credentialExpiry(start + RENEW_INTERVAL_S - 1));
    expect(credentialExpiry(start) - start).toBe(2 * RENEW_INTERVAL_S);
    expect(credentialExpiry(start + RENEW_INTERVAL_S - 1) - (start + RENEW_INTERVAL_S - 1)).toBe(RENEW_INTERVAL_S + 1);
    expect(msUntilRenewal((start + 10) * 1000)).toBe((RENEW_INTERVAL_S - 10) * 1000);
  });
});

describe('the credentials Secret', () => {
  const vmcp = {
    apiVersion: 'mcpoperator.io/v1alpha1',
    kind: 'VirtualMcpServer',
    metadata: { name: 'tools', namespace: 'team', uid: 'u1' },
    spec: {},
  } as never;
  test('one key per backend, each verifying with that backend’s key only; stable within a window', () => {
    const keys = new Map([
      ['github', randomBytes(32)],
      ['memory', randomBytes(32)],
    ]);
    const secret = renderBackendCredentials(vmcp, keys, NOW * 1000);
    expect(secret.metadata?.name).toBe('tools-backend-credentials');
    expect(Object.keys(secret.data ?? {})).toEqual(['github', 'memory']);
    const github = Buffer.from(secret.data?.github as string, 'base64').toString();
    expect(verifyCredential(keys.get('github') as Buffer, github, NOW)).toMatchObject({
      ok: true,
      claims: { namespace: 'team', aggregate: 'tools', backend: 'github' },
    });
    expect(verifyCredential(keys.get('memory') as Buffer, github, NOW).ok).toBe(false);
    expect(renderBackendCredentials(vmcp, keys, (NOW + 60) * 1000)).toEqual(secret);
  });
});

describe('a backend gateway’s authenticator', () => {
  const users: Authenticator = {
    authenticate: async (authorization) =>
      authorization === 'Bearer user-token' ? { ok: true, identity: 'token:abc' } : { ok: false, description: 'no' },
  };
  const auth = new AggregateCredentialAuthenticator({
    users,
    sessionKeys: async () => [KEY],
    log: createLogger({ name: 'test', level: 'silent' }),
    nowSeconds: () => NOW,
  });
  test('a credential names the aggregate; other tokens go to the users’ authenticator', async () => {
    expect(await auth.authenticate(`Bearer ${mintCredential(KEY, claims)}`)).toEqual({
      ok: true,
      identity: 'aggregate:team/tools',
    });
    expect(await auth.authenticate('Bearer user-token')).toEqual({ ok: true, identity: 'token:abc' });
    const foreign = await auth.authenticate(`Bearer ${mintCredential(randomBytes(32), claims)}`);
    expect(foreign).toMatchObject({ ok: false, error: 'invalid_token', description: /signature mismatch/ });
  });
});

describe('the end client in the mux', () => {
  let h: Harness | undefined;
  afterEach(() => h?.mux.close());
  const meta = { [ON_BEHALF_OF_META]: 'token:forged', progressToken: 7 };

  test('a client’s claim is stripped before the server and not audited', () => {
    h = harness();
    h.call(session('a'), 1, 'tools/call', { name: 'echo', arguments: {}, _meta: meta });
    const sent = h.upstream.last().params?._meta as Record<string, unknown>;
    expect(sent[ON_BEHALF_OF_META]).toBeUndefined();
    expect(sent.progressToken).toBeDefined();
    h.upstream.emit({ jsonrpc: '2.0', id: h.upstream.last().id, result: { content: [] } });
    expect(h.audits[0]).toMatchObject({ client: 'client-a' });
    expect(h.audits[0]?.onBehalfOf).toBeUndefined();
  });

  test('an aggregate’s claim is audited (and still not passed to the server)', () => {
    h = harness();
    h.call(session('a', { identity: 'aggregate:team/tools' }), 1, 'tools/call', { name: 'echo', _meta: meta });
    expect(h.upstream.last().params?._meta).toEqual({ progressToken: expect.anything() });
    h.upstream.emit({ jsonrpc: '2.0', id: h.upstream.last().id, result: { content: [] } });
    expect(h.audits[0]).toMatchObject({ client: 'aggregate:team/tools', onBehalfOf: 'token:forged' });
  });
});

describe('sentParams: what an aggregate tells a backend of the end client', () => {
  const call = (identity: string, onBehalfOf?: string) =>
    ({
      method: 'tools/call',
      backend: 'github',
      stampsClient: true,
      session: { identity },
      onBehalfOf,
    }) as unknown as Call;
  test('a client’s own claim is replaced by who it is', () => {
    const sent = sentParams(call('token:abc'), { name: 'x', _meta: { [ON_BEHALF_OF_META]: 'token:admin' } });
    expect(sent?._meta).toEqual({ [ON_BEHALF_OF_META]: 'token:abc' });
  });
  test('an aggregate in front keeps the end client it was told of', () => {
    const sent = sentParams(call('aggregate:team/front', 'oidc:alice'), { name: 'x' });
    expect(sent?._meta).toEqual({ [ON_BEHALF_OF_META]: 'oidc:alice' });
  });
  test('not to a backend that authenticates us: the claim is dropped, other _meta kept, nothing added', () => {
    const single = { ...call('token:abc'), stampsClient: false } as unknown as Call;
    expect(sentParams(single, { name: 'x', _meta: { [ON_BEHALF_OF_META]: 'y', progressToken: 1 } })).toEqual({
      name: 'x',
      _meta: { progressToken: 1 },
    });
    const params = { name: 'x' };
    expect(sentParams(single, params)).toBe(params);
  });
});

describe('a session key replaced in its Secret', () => {
  test('credentials of the new key are accepted without a restart, those of the one before still are', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'session-key-'));
    const path = join(dir, 'session-key');
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    // As the kubelet does: the new file appears whole.
    const put = (key: Buffer) => {
      writeFileSync(`${path}.next`, key);
      renameSync(`${path}.next`, path);
    };
    put(a);
    const keys = new SessionKeyFile(path, createLogger({ name: 'test', level: 'silent' }));
    await keys.load();
    const auth = new AggregateCredentialAuthenticator({
      users: { authenticate: async () => ({ ok: false, description: 'no' }) },
      sessionKeys: keys.current,
      log: createLogger({ name: 'test', level: 'silent' }),
      nowSeconds: () => NOW,
    });
    const ok = async (key: Buffer) => (await auth.authenticate(`Bearer ${mintCredential(key, claims)}`)).ok;
    expect([await ok(a), await ok(b)]).toEqual([true, false]);
    put(b);
    await new Promise((r) => setTimeout(r, 1100)); // the file is looked at once a second
    expect([await ok(b), await ok(a)]).toEqual([true, true]);
    put(c);
    await new Promise((r) => setTimeout(r, 1100));
    expect([await ok(c), await ok(b), await ok(a)]).toEqual([true, true, false]);
  });

  test('fails closed on a short key: refused at start, and a short one written later is not taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'session-key-'));
    const path = join(dir, 'session-key');
    writeFileSync(path, 'x');
    const log = createLogger({ name: 'test', level: 'silent' });
    await expect(new SessionKeyFile(path, log).load()).rejects.toThrow(/under 16 bytes/);
    const good = randomBytes(32);
    writeFileSync(path, good);
    const keys = new SessionKeyFile(path, log);
    await keys.load();
    writeFileSync(`${path}.next`, '');
    renameSync(`${path}.next`, path);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await keys.current()).toEqual([good]);
  });
});
