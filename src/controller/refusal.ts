/**
 * When the API server will not take a child: a refusal to tell the user about (with backoff), or a hiccup to retry
 * quietly? And the message they read: which child, what the API server said, and the McpServer field it is about.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import type { KubeApiError } from '../kube/client.ts';
import { translateChildPaths } from '../render/field-paths.ts';
import type { Blocker } from './status.ts';

/** A 5xx this many reconciles in a row is the API server refusing the child (server-side apply answers 500 to a
 * field its schema does not have), not a hiccup. */
export const SERVER_ERRORS_BEFORE_REFUSAL = 3;

/** 409 (a conflict) and 429 (throttled) pass with a retry; other 4xx do not; a 5xx counts once it repeats. */
export function isRefusal(err: KubeApiError, serverErrorsInARow: number): boolean {
  if (err.status === 409 || err.status === 429) return false;
  if (err.status >= 500) return serverErrorsInARow >= SERVER_ERRORS_BEFORE_REFUSAL;
  return err.status >= 400;
}

export interface Refusal {
  child: KubernetesObject;
  err: KubeApiError;
}

/** What a refusal keeps from happening, e.g. the Deployment behind a refused NetworkPolicy. */
export interface HeldBack {
  kind: string;
  /** It exists: the old one stays as it is. */
  exists: boolean;
}

function describeOne(mcp: McpServer, { child, err }: Refusal): string {
  const kind = child.kind ?? 'object';
  const { message, fields } = translateChildPaths(mcp, kind, err.message);
  const fix = fields.length ? `; fix ${fields.join(', ')} in the McpServer` : '';
  return `the API server refused the ${kind} ${child.metadata?.namespace}/${child.metadata?.name} (HTTP ${err.status}): ${message}${fix}`;
}

function describeHeld(refused: Refusal[], held: HeldBack[]): string {
  if (!held.length) return '';
  const policy = refused.some((r) => r.child.kind === 'NetworkPolicy');
  const parts = held.map(({ kind, exists }) =>
    exists
      ? `${kind} not updated (the running one stays as it was)`
      : `${kind} not created${policy && kind === 'Deployment' ? ', so no pod runs without the policy' : ''}`,
  );
  return `. Until it applies: ${parts.join('; ')}`;
}

/** The blocker for children the API server refused: Forbidden when RBAC or admission said so, else ApplyFailed. */
export function refusalBlocker(mcp: McpServer, refused: Refusal[], held: HeldBack[]): Blocker {
  const message = `${refused.map((r) => describeOne(mcp, r)).join('; ')}${describeHeld(refused, held)}`;
  return { reason: refused.every((r) => r.err.status === 403) ? 'Forbidden' : 'ApplyFailed', message };
}
