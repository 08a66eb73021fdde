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

  it('RFC form (nothing in front of the well-known segment): the suffix is the resource path', () => {
    expect(describedResourcePath('', '/github/mcp')).toBe('/github/mcp');
    expect(describedResourcePath('', '/mcp')).toBe('/mcp');
    expect(describedResourcePath('', '/a/b/sse')).toBe('/a/b/sse');
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
