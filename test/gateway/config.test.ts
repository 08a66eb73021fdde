/**
 * Pure pieces (configuration parsing, the child's environment, token buckets, tool policy, line framing) as
 * unit tests, and the CLI contract (exit code 2 naming the flag) against the real entry point.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ConfigError, childEnvironment, parseConfig, parseDuration } from '../../src/gateway/config.ts';
import { RequestStateCodec } from '../../src/gateway/input.ts';
import { RateLimiter } from '../../src/gateway/policy/ratelimit.ts';
import { ToolPolicy } from '../../src/gateway/policy/tools.ts';
import { LineSplitter, type OversizeLine, oversizeAnswerId, stderrText } from '../../src/gateway/upstream/stdio.ts';
import { GATEWAY_MAIN, NODE } from './helpers.ts';

const run = promisify(execFile);

describe('configuration', () => {
  test('durations', () => {
    expect(parseDuration('30m', 'x')).toBe(1_800_000);
    expect(parseDuration('90s', 'x')).toBe(90_000);
    expect(parseDuration('1h30m', 'x')).toBe(5_400_000);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('1.5s', 'x')).toBe(1500);
    expect(parseDuration('45', 'x')).toBe(45_000);
    expect(() => parseDuration('10 minutes', 'MCP_GATEWAY_IDLE_TIMEOUT')).toThrow(/MCP_GATEWAY_IDLE_TIMEOUT/);
    expect(() => parseDuration('', 'x')).toThrow(ConfigError);
  });

  test('defaults, environment, and flags winning over the environment', () => {
    const d = parseConfig(['stdio', '--', 'server', '--flag-of-the-server']);
    expect(d).toMatchObject({
      mode: 'stdio',
      command: ['server', '--flag-of-the-server'],
      port: 8080,
      healthPort: 9090,
      host: '0.0.0.0',
      sessionMode: 'shared',
      // Sized from the measured memory of an idle session (config.ts, bench/RESULTS.md).
      maxSessions: 1000,
      maxSessionsPerClient: 100,
      idleTimeoutMs: 1_800_000,
      handshakeTimeoutMs: 30_000,
      drainTimeoutMs: 25_000,
      inputTimeoutMs: 600_000,
      maxStreamBufferBytes: 8 * 1024 * 1024,
      basePath: '',
      // SSE keep-alive comments: under nginx's 60 s idle cut-off with room to spare.
      keepAliveMs: 15_000,
    });
    // Each perSession session is a server process: its default stays small.
    expect(parseConfig(['stdio', '--session-mode', 'perSession', '--', 's']).maxSessions).toBe(100);
    expect(parseConfig(['stdio', '--', 's'], { MCP_GATEWAY_HANDSHAKE_TIMEOUT: '45s' }).handshakeTimeoutMs).toBe(45_000);
    expect(() => parseConfig(['stdio', '--handshake-timeout', '0', '--', 's'])).toThrow(/--handshake-timeout/);
    expect(parseConfig(['stdio', '--max-sessions-per-client', '3', '--', 's']).maxSessionsPerClient).toBe(3);
    expect(parseConfig(['stdio', '--max-stream-buffer-bytes', '1048576', '--', 's']).maxStreamBufferBytes).toBe(
      1_048_576,
    );
    expect(() => parseConfig(['stdio', '--', 's'], { MCP_GATEWAY_MAX_STREAM_BUFFER_BYTES: '1000' })).toThrow(
      /^MCP_GATEWAY_MAX_STREAM_BUFFER_BYTES: must be between 65536/,
    );
    expect(parseConfig(['stdio', '--input-timeout', '90s', '--', 's']).inputTimeoutMs).toBe(90_000);
    expect(() => parseConfig(['stdio', '--', 's'], { MCP_GATEWAY_INPUT_TIMEOUT: '0s' })).toThrow(
      /MCP_GATEWAY_INPUT_TIMEOUT/,
    );
    const env = {
      MCP_GATEWAY_PORT: '7000',
      MCP_GATEWAY_SESSION_MODE: 'perSession',
      MCP_GATEWAY_TOOLS_ALLOW: 'a, b,,c',
      MCP_GATEWAY_RATE_LIMIT_PER_TOOL: 'search=10,write=2',
      MCP_GATEWAY_BASE_PATH: '/github/',
      MCP_GATEWAY_IDLE_TIMEOUT: '1h30m',
    };
    const c = parseConfig(['stdio', '--port=7001', '--', 's'], env);
    expect(c.port).toBe(7001);
    expect(c.sessionMode).toBe('perSession');
    expect(c.toolsAllow).toEqual(['a', 'b', 'c']);
    expect([...c.rateLimitPerTool]).toEqual([
      ['search', 10],
      ['write', 2],
    ]);
    expect(c.basePath).toBe('/github');
    expect(c.idleTimeoutMs).toBe(5_400_000);
    const p = parseConfig(['proxy', '--upstream', 'http://127.0.0.1:8000/mcp', '--upstream-transport', 'sse']);
    expect(p).toMatchObject({ mode: 'proxy', upstream: 'http://127.0.0.1:8000/mcp', upstreamTransport: 'sse' });
  });

  test('every error names the flag or variable that caused it', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['stdio', '--port', 'abc', '--', 's'], {}, /^--port: /],
      [['stdio', '--', 's'], { MCP_GATEWAY_PORT: '70000' }, /^MCP_GATEWAY_PORT: /],
      [['stdio', '--session-mode', 'pooled', '--', 's'], {}, /^--session-mode: /],
      [['stdio', '--bogus', '--', 's'], {}, /^--bogus: unknown flag/],
      [['stdio'], {}, /^--: /],
      [['proxy'], {}, /^--upstream: /],
      [['proxy', '--upstream', 'ftp://x'], {}, /^--upstream: /],
      [['stdio', '--', 's'], { MCP_GATEWAY_RATE_LIMIT_PER_TOOL: 'search' }, /^MCP_GATEWAY_RATE_LIMIT_PER_TOOL: /],
      [['stdio', '--', 's'], { MCP_GATEWAY_OIDC_ISSUER: 'https://idp' }, /^--oidc-audience: /],
      [
        ['stdio', '--oidc-issuer', 'idp.example.com', '--oidc-audience', 'a', '--', 's'],
        {},
        /^--oidc-issuer: must be an https URL/,
      ],
      [
        ['stdio', '--oidc-audience', 'a', '--', 's'],
        { MCP_GATEWAY_OIDC_ISSUER: 'http://idp.example.com' },
        /^MCP_GATEWAY_OIDC_ISSUER: .*http only to localhost/,
      ],
      [
        [
          'stdio',
          '--oidc-issuer',
          'https://idp',
          '--oidc-audience',
          'a',
          '--oidc-jwks-url',
          'file:///etc/keys',
          '--',
          's',
        ],
        {},
        /^--oidc-jwks-url: /,
      ],
      [['stdio', '--base-path', 'github', '--', 's'], {}, /^--base-path: /],
      [['stdio', '--port', '9090', '--', 's'], {}, /^--health-port: /],
      [['serve'], {}, /^mode: /],
    ];
    for (const [argv, env, re] of cases) {
      expect(() => parseConfig(argv, env), argv.join(' ')).toThrow(re);
    }
  });

  test('OIDC URLs: https anywhere, http only to this machine', () => {
    const issuer = (url: string) => parseConfig(['stdio', '--oidc-issuer', url, '--oidc-audience', 'a', '--', 's'], {});
    for (const ok of [
      'https://id.example.com',
      'http://127.0.0.1:8080',
      'http://localhost:9000/realms/x',
      'http://[::1]:1',
    ])
      expect(issuer(ok).oidcIssuer).toBe(ok);
    for (const bad of ['http://127.0.0.1.nip.io', 'http://localhost.example.com', 'ftp://id', '', '/relative'])
      expect(() => issuer(bad), bad).toThrow(ConfigError);
  });

  test('the child environment drops every MCP_GATEWAY_* variable and keeps the rest', () => {
    const env = childEnvironment({
      PATH: '/bin',
      MCP_GATEWAY_AUTH_TOKEN_FILE: '/t',
      MCP_GATEWAY_X: 'y',
      GITHUB_TOKEN: 'g',
    });
    expect(env).toEqual({ PATH: '/bin', GITHUB_TOKEN: 'g' });
  });
});

describe('policy pieces', () => {
  test('token bucket: the burst, then one token per interval, with the wait reported', () => {
    let now = 0;
    const limiter = new RateLimiter({ now: () => now });
    for (let i = 0; i < 60; i++) expect(limiter.take('k', 60)).toBe(0);
    const wait = limiter.take('k', 60);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1000);
    now += 1000;
    expect(limiter.take('k', 60)).toBe(0);
    expect(limiter.take('other', 60)).toBe(0);
  });

  test('token bucket: a cost takes that many tokens at once, or none; a cost above the burst never fits', () => {
    let now = 0;
    const limiter = new RateLimiter({ now: () => now });
    expect(limiter.take('k', 60, 50)).toBe(0);
    // 10 left: a cost of 11 is refused whole and takes nothing, so 10 singles still pass.
    const wait = limiter.take('k', 60, 11);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1000);
    expect(limiter.take('k', 60, 10)).toBe(0);
    expect(limiter.take('k', 60)).toBeGreaterThan(0);
    // Waiting for five tokens reports the time for five, not one.
    expect(limiter.take('k', 60, 5)).toBeGreaterThan(4000);
    now += 5000;
    expect(limiter.take('k', 60, 5)).toBe(0);
    expect(limiter.take('fresh', 60, 61)).toBe(Number.POSITIVE_INFINITY);
    expect(limiter.take('fresh', 60, 60)).toBe(0);
  });

  test('token bucket memory is bounded', () => {
    let now = 0;
    const limiter = new RateLimiter({ maxKeys: 100, now: () => now });
    for (let i = 0; i < 1000; i++) {
      now += 1;
      limiter.take(`k${i}`, 10);
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
  });

  test('tool policy: deny wins, an empty allow list allows the rest', () => {
    const limiter = new RateLimiter();
    const p = new ToolPolicy({ allow: [], deny: ['rm'], perTool: new Map(), limiter });
    expect(p.toolAllowed('ls')).toBe(true);
    expect(p.toolAllowed('rm')).toBe(false);
    const q = new ToolPolicy({ allow: ['ls', 'rm'], deny: ['rm'], perTool: new Map([['ls', 1]]), limiter });
    expect(q.toolAllowed('ls')).toBe(true);
    expect(q.toolAllowed('rm')).toBe(false);
    expect(q.toolAllowed('cat')).toBe(false);
    expect(q.toolRetryAfterMs('alice', 'ls')).toBe(0);
    expect(q.toolRetryAfterMs('alice', 'ls')).toBeGreaterThan(0);
    expect(q.toolRetryAfterMs('bob', 'ls')).toBe(0);
    expect(q.toolRetryAfterMs('alice', 'cat')).toBe(0);
  });

  test('line framing across chunks, with oversize lines skipped and the stream resynchronised', () => {
    const lines: string[] = [];
    const oversize: OversizeLine[] = [];
    const split = new LineSplitter(
      10,
      (l) => lines.push(l.toString()),
      (l) => oversize.push(l),
    );
    split.push(Buffer.from('ab'));
    split.push(Buffer.from('c\nde'));
    split.push(Buffer.from('f\n0123456789ABCDEF'));
    split.push(Buffer.from('GHIJ\nok\n'));
    split.push(Buffer.from('0123'));
    split.push(Buffer.from('456789ABC\nend\n'));
    expect(lines).toEqual(['abc', 'def', 'ok', 'end']);
    // Every discarded line is told once, when it ends, with its whole size and both ends.
    expect(oversize.map((l) => [l.bytes, l.head.toString(), l.tail.toString()])).toEqual([
      [20, '0123456789ABCDEFGHIJ', '0123456789ABCDEFGHIJ'],
      [13, '0123456789ABC', '0123456789ABC'],
    ]);
  });

  test('a discarded line keeps 256 bytes of each end, whatever the chunks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 300, max: 5000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1 }),
        (size, cuts) => {
          const text = Array.from({ length: size }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
          const seen: OversizeLine[] = [];
          const lines: string[] = [];
          const split = new LineSplitter(
            100,
            (l) => lines.push(l.toString()),
            (l) => seen.push(l),
          );
          const all = Buffer.from(`${text}\nnext\n`);
          let at = 0;
          for (let i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length] as number;
            split.push(all.subarray(at, at + n));
            at += n;
          }
          expect(lines).toEqual(['next']);
          expect(seen).toHaveLength(1);
          expect(seen[0]?.bytes).toBe(size);
          expect(seen[0]?.head.toString()).toBe(text.slice(0, 256));
          expect(seen[0]?.tail.toString()).toBe(text.slice(-256));
        },
      ),
    );
  });

  test('the id of an oversize answer, read from its ends: only a top-level id of an answer', () => {
    const ends = (line: string) => ({
      bytes: 1 << 26,
      head: Buffer.from(line.slice(0, 256)),
      tail: Buffer.from(line.slice(-256)),
    });
    const big = 'x'.repeat(1000);
    const cases: Array<[string, string | number | undefined]> = [
      // The TypeScript SDK: {result, jsonrpc, id}.
      [`{"result":{"content":[{"type":"text","text":"${big}"}]},"jsonrpc":"2.0","id":7}`, 7],
      [`{"jsonrpc":"2.0","result":{"text":"${big}"},"id":"gw-3"}`, 'gw-3'],
      [`{"error":{"code":1,"message":"${big}"},"jsonrpc":"2.0","id":-2}\r`, -2],
      // Python's SDK: {jsonrpc, id, result}.
      [`{"jsonrpc":"2.0","id":12,"result":{"text":"${big}"}}`, 12],
      [`{ "id" : 5 , "result" : "${big}" }`, 5],
      // Not a top-level answer id: a nested id at the end, a request, a notification, no id at all.
      [`{"result":{"items":[{"text":"${big}","id":9}]},"jsonrpc":"2.0"}`, undefined],
      [`{"result":{"text":"${big}","inner":{"id":9}}}`, undefined],
      [`{"jsonrpc":"2.0","method":"sampling/createMessage","params":{"t":"${big}"},"id":4}`, undefined],
      [`{"method":"notifications/message","params":{"data":"${big}","id":4}}`, undefined],
      [`{"params":{"x":"${big}"},"id":4,"method":"x"}`, undefined],
      [`not json ${big} "id":3}`, undefined],
    ];
    for (const [line, id] of cases) expect(oversizeAnswerId(ends(line)), line.slice(0, 60)).toBe(id);
  });

  test('stderr log text: bounded in bytes, cut before a character, never through it', () => {
    expect(stderrText(Buffer.from('hello\r'), 8)).toBe('hello');
    expect(stderrText(Buffer.from('0123456789'), 8)).toBe('01234567…');
    // 'é' is 2 bytes: 8 of them are 16 bytes, over an 8-byte bound although only 8 characters.
    expect(stderrText(Buffer.from('éééééééé'), 8)).toBe('éééé…');
    expect(stderrText(Buffer.from('abcdefgé!'), 8)).toBe('abcdefg…');
    expect(stderrText(Buffer.from('abc😀def'), 5)).toBe('abc…');
  });
});

describe('the CLI', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(NODE, [GATEWAY_MAIN, ...args], { env: { ...process.env, ...env } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  test('bad input exits 2 with a message naming the flag', async () => {
    const r = await cli(['stdio', '--port', 'abc', '--', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port: expected an integer');
    const e = await cli(['stdio', '--', 'x'], { MCP_GATEWAY_SESSION_MODE: 'bogus' });
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('MCP_GATEWAY_SESSION_MODE');
  });

  test('--help prints the usage and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('mcp-operator gateway stdio');
    expect(r.stdout).toContain('MCP_GATEWAY_RATE_LIMIT_PER_TOOL');
  });

  test('an unreadable token file fails the start with exit 1', async () => {
    const r = await cli(['stdio', '--', 'x'], {
      MCP_GATEWAY_AUTH_TOKEN_FILE: '/nonexistent/tokens',
      MCP_GATEWAY_PORT: '0',
      MCP_GATEWAY_HEALTH_PORT: '0',
      MCP_GATEWAY_HOST: '127.0.0.1',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read the token file /nonexistent/tokens');
  });
});

describe('the input_required requestState', () => {
  test('signed, bound to the client identity, expiring, naming the owning replica', () => {
    const secret = Buffer.from('a-shared-secret-of-at-least-16-bytes');
    const a = new RequestStateCodec(secret, '10.0.0.1:8080');
    const b = new RequestStateCodec(secret, '10.0.0.2:8080');
    const now = Date.now();
    const state = a.mint(a.newFlowId(), 2, now + 60_000, 'ip:192.0.2.1');
    const verified = a.verify(state, 'ip:192.0.2.1');
    expect(verified).toMatchObject({ ok: true, claims: { owner: '10.0.0.1:8080', round: 2 } });
    // Any replica with the secret verifies it and relays to the owner; the owner keeps it.
    expect(b.remoteOwner(state, 'ip:192.0.2.1')).toBe('10.0.0.1:8080');
    expect(a.remoteOwner(state, 'ip:192.0.2.1')).toBeUndefined();
    expect(a.verify(state, 'ip:192.0.2.99')).toEqual({ ok: false, reason: 'identity' });
    expect(b.remoteOwner(state, 'ip:192.0.2.99')).toBeUndefined();
    expect(a.verify(state, 'ip:192.0.2.1', now + 61_000)).toEqual({ ok: false, reason: 'expired' });
    const parts = state.split('.');
    parts[3] = '3';
    expect(a.verify(parts.join('.'), 'ip:192.0.2.1')).toEqual({ ok: false, reason: 'forged' });
    expect(a.verify('not-a-state', 'ip:192.0.2.1')).toEqual({ ok: false, reason: 'malformed' });
    // Another secret (or none: a per-process key) cannot verify it.
    expect(new RequestStateCodec(Buffer.from('another-secret-of-16-bytes!')).verify(state, 'ip:192.0.2.1')).toEqual({
      ok: false,
      reason: 'forged',
    });
  });
});
