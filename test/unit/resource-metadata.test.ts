/** RFC 9728 metadata paths of the gateway: which resource a metadata request describes. */
import { describe, expect, it } from 'vitest';
import { describedResourcePath, metadataPath, metadataSuffix } from '../../src/gateway/http/resource-metadata.ts';

describe('RFC 9728 metadata paths', () => {
  it('puts the well-known segment right after the host, then the resource path (§3.1)', () => {
    expect(metadataPath('/github/mcp')).toBe('/.well-known/oauth-protected-resource/github/mcp');
    expect(metadataPath('/mcp')).toBe('/.well-known/oauth-protected-resource/mcp');
  });

  it('recognises metadata paths and nothing else', () => {
    expect(metadataSuffix('/.well-known/oauth-protected-resource')).toBe('');
    expect(metadataSuffix('/.well-known/oauth-protected-resource/github/mcp')).toBe('/github/mcp');
    expect(metadataSuffix('/.well-known/oauth-protected-resourcex')).toBeUndefined();
    expect(metadataSuffix('/mcp')).toBeUndefined();
  });

  it('RFC form (nothing in front of the well-known segment), no base path: the suffix is the resource path', () => {
    // A proxy that strips a prefix may stand in front; the gateway cannot know the prefix, so it takes the path.
    expect(describedResourcePath('', '/github/mcp')).toBe('/github/mcp');
    expect(describedResourcePath('', '/a/b/sse')).toBe('/a/b/sse');
    expect(describedResourcePath('', '/mcp')).toBe('/mcp');
  });

  it("RFC form with a base path: only the gateway's own endpoints, never another application's path", () => {
    expect(describedResourcePath('', '/github/mcp', '/github')).toBe('/github/mcp');
    expect(describedResourcePath('', '/github/sse', '/github')).toBe('/github/sse');
    expect(describedResourcePath('', '/mcp', '/github')).toBe('/mcp');
    expect(describedResourcePath('', '', '/github')).toBe('/github/mcp');
    expect(describedResourcePath('', '/other/mcp', '/github')).toBeUndefined();
    expect(describedResourcePath('', '/a/github/mcp', '/github')).toBeUndefined();
  });

  it('under a prefix (the older form, or a proxy that stripped it): the prefix names the resource', () => {
    expect(describedResourcePath('/github', '/github/mcp')).toBe('/github/mcp');
    expect(describedResourcePath('/github', '/mcp')).toBe('/github/mcp');
    expect(describedResourcePath('/github', '')).toBe('/github/mcp');
    expect(describedResourcePath('', '')).toBe('/mcp');
  });

  it('describes nothing the gateway does not serve, and never odd paths', () => {
    for (const suffix of ['/github/admin', '/github/mcp/x', '/../mcp', '/a/./mcp', '//evil.example/mcp', '/"x/mcp']) {
      expect(describedResourcePath('', suffix), suffix).toBeUndefined();
    }
  });
});
