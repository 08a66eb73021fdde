/**
 * Issue 10 F on a real kube-apiserver: the generated CRD refuses each gap with the same text the offline
 * validator gives (messageExpression and its TypeScript mirror), and accepts the look-alikes.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDocument, visit } from 'yaml';
import { compareQuantities, parseQuantity } from '../../src/api/quantity.ts';
import { InvalidMcpServerError, parseMcpServer } from '../../src/api/validate.ts';
import { kubectlReadingDifferences, kubectlScalar } from '../../src/cli/kubectl-yaml.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { CHILD_KINDS, renderChildren } from '../../src/render/index.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { gapCases } from '../fixtures/validation-gaps.ts';
import { gapNeighbours, QUANTITY_PAIRS } from '../fixtures/validation-neighbours.ts';
import { adminClient, createRestrictedNamespace, KubeApiError, resourcePath, T } from '../support/kube.ts';

let admin: KubeClient;
let namespace: string;
/** The owner the rendered children name (no McpServer is stored in this file). */
const OWNER_UID = '6f1c0de0-0000-4000-8000-000000000010';

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  namespace = await createRestrictedNamespace(admin, 'gaps');
});

/** Dry-run create with strict field validation, as kubectl does: the error, or undefined when accepted. */
async function apiError(manifest: object): Promise<KubeApiError | undefined> {
  try {
    await admin.create(resourcePath(T.mcpservers, { namespace }), manifest, {
      fieldValidation: 'Strict',
      dryRun: 'All',
    });
    return undefined;
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
}

function offlineError(manifest: object): InvalidMcpServerError | undefined {
  try {
    parseMcpServer(manifest);
    return undefined;
  } catch (err) {
    if (err instanceof InvalidMcpServerError) return err;
    throw err;
  }
}

describe('the validation gaps of issue 10 F, on the API server', () => {
  it(`refuses ${gapCases.length} manifests naming the field and the fix, in the offline validator's words`, async () => {
    for (const c of gapCases) {
      const err = await apiError(c.manifest);
      expect(err, `${c.name}: refused`).toBeDefined();
      expect(err?.status, c.name).toBe(422);
      expect(err?.message, `${c.name}: names the field`).toContain(`${c.field}: `);
      expect(err?.message, `${c.name}: says how to fix it`).toMatch(c.says);
      if (c.secret) expect(err?.message, `${c.name}: never repeats the secret`).not.toContain(c.secret);
      const offline = offlineError(c.manifest)?.errors.find((e) => e.field === c.field);
      expect(offline, `${c.name}: refused offline on ${c.field}`).toBeDefined();
      // A type error is in the API server's own words; every CEL rule's text is ours, built the same both ways.
      if (!c.structural) expect(err?.message, `${c.name}: same text as render`).toContain(offline?.message);
    }
  });

  it(`accepts ${gapNeighbours.length} look-alikes, as the offline validator does`, async () => {
    for (const c of gapNeighbours) {
      const err = await apiError(c.manifest);
      expect(err?.message, c.name).toBeUndefined();
      expect(offlineError(c.manifest)?.message, c.name).toBeUndefined();
    }
  });

  it('renders children the API server takes for every look-alike, applied as the controller applies them', async () => {
    // The API server's own checks of a Deployment (duplicate env names, mount paths) run only at apply time.
    for (const c of gapNeighbours) {
      const mcp = parseMcpServer({ ...c.manifest, metadata: { ...c.manifest.metadata, namespace, uid: OWNER_UID } });
      for (const child of renderChildren(mcp, { gatewayImage: 'example.test/mcp-operator:1' })) {
        const kind = CHILD_KINDS.find((k) => k.kind === child.kind);
        if (!kind) throw new Error(`no CHILD_KINDS entry for ${child.kind}`);
        const where = resourcePath(kind, { namespace, name: child.metadata?.name });
        const refusal = await admin.apply(where, child, 'mcp-operator').then(
          () => undefined,
          (err: unknown) => (err instanceof KubeApiError ? err.message : Promise.reject(err)),
        );
        expect(refusal, `${c.name}: the ${child.kind}`).toBeUndefined();
      }
    }
  });

  it("compares quantities exactly as CEL's quantity library does", async () => {
    for (const [a, b] of QUANTITY_PAIRS) {
      for (const [request, limit] of [
        [a, b],
        [b, a],
      ] as const) {
        const manifest = stdioServer('q', { resources: { requests: { cpu: request }, limits: { cpu: limit } } });
        const refused = (await apiError(manifest)) !== undefined;
        // A negative request or limit is refused for itself (a container takes none).
        const negative = [request, limit].some((q) => String(q).startsWith('-'));
        const above = compareQuantities(parseQuantity(request) as never, parseQuantity(limit) as never) > 0;
        expect(refused, `request ${request}, limit ${limit}`).toBe(above || negative);
        expect(offlineError(manifest) !== undefined, `offline: request ${request}, limit ${limit}`).toBe(
          above || negative,
        );
      }
    }
  });
});

describe("render's YAML 1.1 warning, on the API server", () => {
  it('names the field where what kubectl would send is refused while what render read is accepted', async () => {
    const text = `apiVersion: mcpoperator.io/v1alpha1
kind: McpServer
metadata:
  name: yaml11
spec:
  image: node:24-slim
  command: [npx, -y, server]
  env:
    - name: VERBOSE
      value: yes
    - name: WINDOW
      value: 1:30
`;
    const doc = parseDocument(text);
    const warned = kubectlReadingDifferences(doc).map((d) => d.path);
    expect(warned).toEqual(['spec.env[0].value']);
    expect(await apiError(doc.toJS())).toBeUndefined();
    // The same text as kubectl reads it (go-yaml v2's resolve for every unquoted scalar).
    const asKubectl = doc.clone();
    visit(asKubectl, {
      Scalar(_key, node) {
        if (node.type === 'PLAIN' && !node.tag && node.source !== undefined) node.value = kubectlScalar(node.source);
      },
    });
    const err = await apiError(asKubectl.toJS());
    expect(err?.message).toMatch(/spec\.env\[0\]\.value: Invalid value: "boolean"/);
  });
});
