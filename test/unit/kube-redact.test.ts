/**
 * Credentials never reach an error message (src/kube/redact.ts): a proxy or webhook in front of a real local
 * HTTP server echoes what the client sent, and the KubeClient's error leaves it out.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient } from '../../src/kube/client.ts';
import { credentialsOf, REDACTED, redact } from '../../src/kube/redact.ts';

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    if (req.url?.startsWith('/status')) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', reason: 'Unauthorized', message: `token rejected: ${auth}` }));
    } else {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: upstream refused request with ${auth} (decoded ${Buffer.from(auth.slice(6), 'base64')})`);
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});

function client(user: Record<string, string>): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: base, skipTLSVerify: true }],
    users: [{ name: 'u', ...user }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc);
}

async function failure(c: KubeClient, path: string): Promise<KubeApiError> {
  const err = await c.get(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubeApiError);
  return err as KubeApiError;
}

describe('credentials in error messages', () => {
  it('an echoed bearer token is redacted, in the message and the Status body', async () => {
    const token = 'sha256~secret-bearer-token-0123456789';
    const err = await failure(client({ token }), '/status');
    expect(err.status).toBe(401);
    expect(err.message).toBe(`token rejected: Bearer ${REDACTED}`);
    expect(JSON.stringify(err.body)).not.toContain(token);
  });

  it('a plain-text answer echoing basic auth loses the password and the encoded pair', async () => {
    const err = await failure(client({ username: 'admin', password: 'correct-horse-battery' }), '/text');
    expect(err.status).toBe(502);
    expect(err.message).not.toContain('correct-horse-battery');
    expect(err.message).not.toContain(Buffer.from('admin:correct-horse-battery').toString('base64'));
    expect(err.message).toContain(REDACTED);
  });
});

describe('redact', () => {
  it('leaves no occurrence of any credential of 8 characters or more, whatever surrounds it', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 8, maxLength: 40 }),
        fc.array(fc.string(), { maxLength: 4 }),
        (secret, parts) => {
          const text = parts.join(secret);
          const out = redact(
            text,
            credentialsOf({ authorization: `Bearer ${secret.replace(/\s/g, 'x')}` }, { token: secret }),
          );
          expect(out.includes(secret)).toBe(false);
        },
      ),
    );
  });

  it('a replacement that joins its neighbours into the credential again is redacted too', () => {
    const secret = 'd]abcdefg';
    expect(redact(`${secret}abcdefg`, [secret])).not.toContain(secret);
  });

  it('does not search for short values, which would cut ordinary words', () => {
    expect(credentialsOf({ authorization: 'Bearer abc' }, { password: 'pw' })).toEqual([]);
    expect(redact('abc pw', [])).toBe('abc pw');
  });
});
