/**
 * What the auth gate and the relay build from headers (src/gateway/http/identity.ts, external-url.ts, relay.ts,
 * resource-metadata.ts): the WWW-Authenticate challenge, the URL the client called, client identities.
 */
import { describe, expect, it } from 'vitest';
import { externalOriginOf, externalPrefixOf } from '../../src/gateway/http/external-url.ts';
import { addressIdentity, bearerChallenge } from '../../src/gateway/http/identity.ts';
import { replicaEndpoint } from '../../src/gateway/http/relay.ts';
import { protectedResourceDocument } from '../../src/gateway/http/resource-metadata.ts';

const META = 'https://gw.example/.well-known/oauth-protected-resource/github/mcp';

describe('bearerChallenge', () => {
  it.each<[string, Parameters<typeof bearerChallenge>[1], string]>([
    [
      'no token: only where the metadata is (RFC 6750 §3.1)',
      { ok: false, description: 'a bearer token is required' },
      `Bearer resource_metadata="${META}"`,
    ],
    [
      'a bad token: the error and its description',
      { ok: false, error: 'invalid_token', description: 'the bearer token is not valid' },
      `Bearer resource_metadata="${META}", error="invalid_token", error_description="the bearer token is not valid"`,
    ],
    [
      'a malformed header',
      { ok: false, error: 'invalid_request', description: 'expected an Authorization: Bearer token' },
      `Bearer resource_metadata="${META}", error="invalid_request", error_description="expected an Authorization: Bearer token"`,
    ],
  ])('%s', (_name, failure, expected) => {
    expect(bearerChallenge(META, failure)).toBe(expected);
  });
});

describe('the URL the client called', () => {
  it.each<[string | undefined, string | undefined, string]>([
    [undefined, 'gw.example', 'http://gw.example'],
    ['https', 'gw.example', 'https://gw.example'],
    ['https, http', 'gw.example', 'https://gw.example'],
    ['gopher', 'gw.example', 'http://gw.example'],
    [undefined, undefined, 'http://localhost'],
  ])('X-Forwarded-Proto %s, host %s: %s', (proto, host, origin) => {
    expect(externalOriginOf(proto, host)).toBe(origin);
  });

  it.each<[string | undefined, string, string]>([
    [undefined, '', ''],
    [undefined, '/github', '/github'],
    ['/team', '', '/team'],
    ['/team/', '/github', '/team/github'],
    ['/team, /other', '', '/team'],
    ['/github', '/github', '/github'],
    ['team', '', ''],
    ['/a"b', '', ''],
    ['/a b', '/github', '/github'],
    // A client resolves these elsewhere: another host, or up and out of the prefix.
    ['//evil.example', '', ''],
    ['/team//evil', '', ''],
    ['/../../x', '/github', '/github'],
    ['/team/%2E%2e/x', '', ''],
    ['/./team', '', ''],
    [`/${'a'.repeat(300)}`, '', ''],
    ['/team.v2/..x', '', '/team.v2/..x'],
  ])('X-Forwarded-Prefix %s, base path %s: %s', (forwarded, prefix, expected) => {
    expect(externalPrefixOf(forwarded, prefix)).toBe(expected);
  });
});

describe('addressIdentity', () => {
  it.each<[string | undefined, string | undefined, boolean, string]>([
    ['203.0.113.9', '10.0.0.1', false, 'ip:10.0.0.1'],
    ['198.51.100.1, 203.0.113.9', '10.0.0.1', true, 'ip:203.0.113.9'],
    ['203.0.113.9, forged', '10.0.0.1', true, 'ip:10.0.0.1'],
    ['2001:db8::1', '10.0.0.1', true, 'ip:2001:db8::1'],
    [undefined, '10.0.0.1', true, 'ip:10.0.0.1'],
    [undefined, undefined, false, 'ip:unknown'],
  ])('X-Forwarded-For %s from %s (trusted: %s): %s', (xff, remote, trust, identity) => {
    expect(addressIdentity(xff, remote, trust)).toBe(identity);
  });
});

describe('replicaEndpoint', () => {
  it.each<[string, { host: string; port: number }]>([
    ['10.1.2.3:8080', { host: '10.1.2.3', port: 8080 }],
    ['pod-a.gw.ns.svc:9000', { host: 'pod-a.gw.ns.svc', port: 9000 }],
    ['[fd00::1]:8080', { host: 'fd00::1', port: 8080 }],
    ['pod-a', { host: 'pod-a', port: 8080 }],
  ])('%s', (owner, endpoint) => {
    expect(replicaEndpoint(owner)).toEqual(endpoint);
  });
});

describe('protectedResourceDocument', () => {
  it('names the resource, the header method, and the issuer when there is one', () => {
    const resource = 'https://gw.example/github/mcp';
    expect(protectedResourceDocument(resource, undefined)).toEqual({
      resource,
      bearer_methods_supported: ['header'],
      resource_name: 'MCP server (mcp-operator gateway)',
    });
    expect(protectedResourceDocument(resource, 'https://issuer.example')).toMatchObject({
      authorization_servers: ['https://issuer.example'],
    });
  });
});
