/** Reads the kube-apiserver audit log: what the controller's identity really asked of the API server. */
import { readFileSync } from 'node:fs';

export interface AuditEvent {
  verb: string;
  userAgent?: string;
  requestURI: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export function readAudit(path: string): AuditEvent[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent);
}

/** Mutating requests in `namespace` since `since` (ISO time), leases excluded (leader election is not reconcile). */
export function writesSince(path: string, namespace: string, since: string): AuditEvent[] {
  return readAudit(path).filter(
    (e) =>
      Date.parse(e.requestReceivedTimestamp) >= Date.parse(since) &&
      MUTATING.has(e.verb) &&
      e.objectRef?.namespace === namespace &&
      e.objectRef?.resource !== 'leases',
  );
}

export const describeWrites = (events: AuditEvent[]) =>
  events.map(
    (e) =>
      `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name ?? ''}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
  );
