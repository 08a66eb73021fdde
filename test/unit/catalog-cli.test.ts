/** The catalog and connect verbs' flags: defaults, and refusals that name the flag and the fix. */
import { describe, expect, it } from 'vitest';
import { parseCatalogFlags } from '../../src/cli/catalog.ts';
import { parseConnectFlags } from '../../src/cli/connect.ts';

describe('mcp-operator catalog flags', () => {
  it('defaults: every namespace, :8080, local.cluster, no auth', () => {
    expect(parseCatalogFlags([], {})).toMatchObject({
      namespaces: [],
      listen: { host: '0.0.0.0', port: 8080 },
      namePrefix: 'local.cluster',
      basePath: '',
      tokenFile: undefined,
      oidc: undefined,
    });
    expect(parseCatalogFlags([], { WATCH_NAMESPACES: 'a, b' }).namespaces).toEqual(['a', 'b']);
  });

  it('refuses what cannot work, naming the flag', () => {
    expect(() => parseCatalogFlags(['--listen', 'nowhere'], {})).toThrow('--listen must be HOST:PORT');
    expect(() => parseCatalogFlags(['--name-prefix', 'a/b'], {})).toThrow('--name-prefix must be reverse-DNS');
    expect(() =>
      parseCatalogFlags(['--auth-token-file', 'f', '--oidc-issuer', 'https://i', '--oidc-audience', 'a'], {}),
    ).toThrow('one of --auth-token-file or --oidc-issuer');
    expect(() => parseCatalogFlags(['--oidc-issuer', 'https://i'], {})).toThrow(
      '--oidc-issuer and --oidc-audience go together',
    );
    expect(() => parseCatalogFlags(['--base-path', 'catalog'], {})).toThrow('--base-path must be a URL path');
    expect(() => parseCatalogFlags(['--colour'], {})).toThrow();
  });

  it('takes a base path without its trailing slash', () => {
    expect(parseCatalogFlags(['--base-path', '/tools/catalog/'], {}).basePath).toBe('/tools/catalog');
  });

  it('takes OIDC settings together', () => {
    expect(
      parseCatalogFlags(['--oidc-issuer', 'https://id.example.com', '--oidc-audience', 'catalog'], {}).oidc,
    ).toEqual({ issuer: 'https://id.example.com', audience: 'catalog', jwksUrl: undefined });
  });
});

describe('mcp-operator connect flags', () => {
  it('takes NAME, -n and --client', () => {
    expect(parseConnectFlags(['github', '-n', 'team-a', '--client', 'vscode'])).toMatchObject({
      name: 'github',
      namespace: 'team-a',
      client: 'vscode',
    });
  });

  it('refuses a missing name, a missing or unknown client', () => {
    expect(() => parseConnectFlags(['--client', 'cursor'])).toThrow('exactly one server NAME');
    expect(() => parseConnectFlags(['github'])).toThrow('--client is required');
    expect(() => parseConnectFlags(['github', '--client', 'emacs'])).toThrow('--client must be one of');
  });
});
