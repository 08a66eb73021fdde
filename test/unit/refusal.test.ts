/** Which API server answers are refusals the user must hear about, and what the message says. */
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseMcpServer } from '../../src/api/validate.ts';
import { isRefusal, refusalBlocker, SERVER_ERRORS_BEFORE_REFUSAL } from '../../src/controller/refusal.ts';
import { KubeApiError } from '../../src/kube/client.ts';
import { stdioServer } from '../fixtures/manifests.ts';

const mcp = parseMcpServer({
  ...stdioServer('github', { networkPolicy: { ingressFrom: [{ ipBlock: { cidr: '10.0.0.0/33' } }] } }),
  metadata: { name: 'github', namespace: 'team-a' },
});
const child = (kind: string): KubernetesObject => ({ kind, metadata: { name: 'github', namespace: 'team-a' } });
const error = (status: number, message = 'refused') => new KubeApiError(status, 'Invalid', message, undefined);

describe('isRefusal', () => {
  it.each([
    [422, 0, true],
    [400, 0, true],
    [403, 0, true],
    [404, 0, true],
    [409, 5, false], // a conflict: the next try sees the new state
    [429, 5, false], // throttled
    [500, 1, false], // once is a hiccup
    [503, SERVER_ERRORS_BEFORE_REFUSAL - 1, false],
    [500, SERVER_ERRORS_BEFORE_REFUSAL, true], // repeated: it is the answer
    [504, SERVER_ERRORS_BEFORE_REFUSAL + 4, true],
  ])('HTTP %i after %i server errors in a row: %s', (status, repeats, refused) => {
    expect(isRefusal(error(status), repeats)).toBe(refused);
  });
});

describe('refusalBlocker', () => {
  const cidr =
    'NetworkPolicy.networking.k8s.io "github" is invalid: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value';

  it('names the child, the HTTP status, the McpServer field, and the workload it holds back', () => {
    const blocker = refusalBlocker(
      mcp,
      [{ child: child('NetworkPolicy'), err: error(422, cidr) }],
      [
        { kind: 'Service', exists: false },
        { kind: 'Deployment', exists: false },
      ],
    );
    expect(blocker).toEqual({
      reason: 'ApplyFailed',
      message:
        'the API server refused the NetworkPolicy team-a/github (HTTP 422): NetworkPolicy.networking.k8s.io "github" is invalid: spec.networkPolicy.ingressFrom[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value; fix spec.networkPolicy.ingressFrom[0].ipBlock.cidr in the McpServer. Until it applies: Service not created; Deployment not created, so no pod runs without the policy',
    });
  });

  it('says the running Deployment stays as it was when it exists', () => {
    const blocker = refusalBlocker(
      mcp,
      [{ child: child('NetworkPolicy'), err: error(422, cidr) }],
      [{ kind: 'Deployment', exists: true }],
    );
    expect(blocker.message).toMatch(/Until it applies: Deployment not updated \(the running one stays as it was\)$/);
  });

  it('is Forbidden only when every refusal is a 403, and lists every refused child', () => {
    const forbidden = refusalBlocker(mcp, [{ child: child('Ingress'), err: error(403, 'quota exceeded') }], []);
    expect(forbidden.reason).toBe('Forbidden');
    expect(forbidden.message).toBe('the API server refused the Ingress team-a/github (HTTP 403): quota exceeded');
    const both = refusalBlocker(
      mcp,
      [
        { child: child('Ingress'), err: error(403, 'quota exceeded') },
        { child: child('Service'), err: error(500, 'failed calling webhook') },
      ],
      [],
    );
    expect(both.reason).toBe('ApplyFailed');
    expect(both.message).toContain(
      'Ingress team-a/github (HTTP 403): quota exceeded; the API server refused the Service',
    );
  });
});
