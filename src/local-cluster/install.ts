/** Installs the CRD and the operator's RBAC into a cluster (the local control plane, or any, with admin rights). */
import { allCrds } from '../api/crd.ts';
import { controllerRules, gatewayApiRules, leaderElectionRules } from '../controller/rbac.ts';
import { isConflict, type KubeClient, resourcePath } from '../kube/client.ts';

const CRDS = { apiVersion: 'apiextensions.k8s.io/v1', plural: 'customresourcedefinitions' };
const CLUSTER_ROLES = { apiVersion: 'rbac.authorization.k8s.io/v1', plural: 'clusterroles' };
const CLUSTER_ROLE_BINDINGS = { apiVersion: 'rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings' };

/** Server-side apply the CRDs (McpServer, VirtualMcpServer) and wait until the API serves them. */
export async function installCrd(client: KubeClient): Promise<void> {
  for (const crd of allCrds()) await installOneCrd(client, crd);
}

async function installOneCrd(client: KubeClient, crd: ReturnType<typeof allCrds>[number]): Promise<void> {
  await client.apply(resourcePath(CRDS, { name: crd.metadata.name }), crd, 'mcp-operator-install');
  for (let i = 0; i < 300; i++) {
    const live = await client.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
      resourcePath(CRDS, { name: crd.metadata.name }),
    );
    if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`CRD ${crd.metadata.name} not established in 30 s`);
}

/** Everything the controller needs before it starts: the CRDs, and its RBAC bound to `controllerUser`. */
export async function installOperator(client: KubeClient, controllerUser: string): Promise<void> {
  await installCrd(client);
  await installControllerRbac(client, controllerUser);
}

/** A ClusterRole with exactly the controller's rules, bound to `user`. */
export async function installControllerRbac(client: KubeClient, user: string): Promise<void> {
  const name = 'mcp-operator';
  await client.apply(
    resourcePath(CLUSTER_ROLES, { name }),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules: [...controllerRules, ...gatewayApiRules, ...leaderElectionRules],
    },
    'mcp-operator-install',
  );
  try {
    await client.apply(
      resourcePath(CLUSTER_ROLE_BINDINGS, { name }),
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
      'mcp-operator-install',
    );
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}
