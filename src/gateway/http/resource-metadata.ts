/**
 * RFC 9728 protected-resource metadata paths. §3.1 puts the well-known segment right after the host and the
 * resource's own path after it: `https://host/github/mcp` is described at
 * `https://host/.well-known/oauth-protected-resource/github/mcp`. A client checks that the document's `resource`
 * equals the URL it called (§3.3), so the path suffix names the resource.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WELL_KNOWN_RESOURCE } from '../../contract/gateway.ts';
import type { Authenticator } from '../policy/auth.ts';
import { externalOrigin, externalPrefix } from './external-url.ts';
import { sendJson } from './reply.ts';

/** A path a proxy may stand in front of us with; anything else is never echoed back. */
const SAFE_PATH = /^\/[A-Za-z0-9._~!$&'()*+;=:@%/-]*$/;
/** The endpoints a resource path may end in: the ones this gateway serves. */
const ENDPOINT = /\/(mcp|sse)$/;

/** The metadata path (RFC form) for a resource path such as `/github/mcp`. */
export function metadataPath(resourcePath: string): string {
  return `${WELL_KNOWN_RESOURCE}${resourcePath}`;
}

/** What follows the well-known segment ('' for the bare path); undefined when this is not a metadata path. */
export function metadataSuffix(path: string): string | undefined {
  if (path === WELL_KNOWN_RESOURCE) return '';
  return path.startsWith(`${WELL_KNOWN_RESOURCE}/`) ? path.slice(WELL_KNOWN_RESOURCE.length) : undefined;
}

/**
 * The resource path a metadata request describes; undefined when it names nothing this gateway serves.
 * `prefix` is the external path in front of the well-known segment: '' for the RFC form, where the suffix is the
 * resource path; otherwise the older form under a prefix (`/github/.well-known/...`, or a proxy that stripped the
 * prefix and sent X-Forwarded-Prefix), where the prefix names the resource and the suffix only picks the endpoint.
 * `served`: the gateway's own base path when it has one (the operator sets it from the Ingress path); then the RFC
 * form must name one of its endpoints, with or without it, so it never describes another application's paths. Without one,
 * a proxy that strips a prefix may stand in front, so any endpoint path is taken at its word.
 */
export function describedResourcePath(prefix: string, suffix: string, served?: string): string | undefined {
  if (suffix === '') return `${prefix || served || ''}/mcp`;
  const endpoint = ENDPOINT.exec(suffix)?.[0];
  if (endpoint === undefined || !SAFE_PATH.test(suffix) || /\/\/|\/\.\.?\//.test(suffix)) return undefined;
  if (prefix !== '') return `${prefix}${endpoint}`;
  // The gateway serves its endpoints with and without its base path (the Ingress uses it, the Service does not).
  return served === undefined || suffix === `${served}${endpoint}` || suffix === endpoint ? suffix : undefined;
}

/** The metadata document of the resource at `resource` (an absolute URL). */
export function protectedResourceDocument(resource: string, issuer: string | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {
    resource,
    bearer_methods_supported: ['header'],
    resource_name: 'MCP server (mcp-operator gateway)',
  };
  if (issuer) body.authorization_servers = [issuer];
  return body;
}

export interface MetadataRequest {
  /** The base path when the request came under it, else ''. */
  prefix: string;
  /** What follows the well-known segment (metadataSuffix). */
  suffix: string;
  /** The gateway's configured base path ('' for none). */
  basePath: string;
  auth?: Authenticator;
}

/** GET of a metadata path: the document, or 404 without authentication or for a path that names nothing here. */
export function answerResourceMetadata(req: IncomingMessage, res: ServerResponse, m: MetadataRequest): void {
  if (!m.auth) {
    sendJson(res, 404, { error: 'this gateway does not require authorization' });
    return;
  }
  const resourcePath = describedResourcePath(
    m.prefix === '' ? '' : externalPrefix(req, m.prefix),
    m.suffix,
    m.basePath ? externalPrefix(req, m.basePath) : undefined,
  );
  if (resourcePath === undefined) {
    sendJson(res, 404, { error: 'this path describes no resource of this gateway' });
    return;
  }
  const document = protectedResourceDocument(`${externalOrigin(req)}${resourcePath}`, m.auth.issuer);
  sendJson(res, 200, document, { 'cache-control': 'max-age=300' });
}
