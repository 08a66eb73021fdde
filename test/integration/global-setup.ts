/**
 * One real control plane (etcd, kube-apiserver, kube-controller-manager) for the integration tests, with
 * the CRD and the controller's RBAC installed. The first run builds the binaries (see scripts/k8s-binaries.sh).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { KubeClient } from '../../src/kube/client.ts';
import { CONTROLLER_USER, ControlPlane } from '../../src/local-cluster/control-plane.ts';
import { installOperator } from '../../src/local-cluster/install.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminKubeconfig: string;
    controllerKubeconfig: string;
    auditLog: string;
    controlPlaneDir: string;
  }
}

export default async function setup(project: TestProject) {
  const plane = new ControlPlane({ dir: join(tmpdir(), `mcp-operator-it-${process.pid}`), audit: true });
  await plane.start();
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigs.admin);
  const admin = new KubeClient(kc);
  await installOperator(admin, CONTROLLER_USER);
  project.provide('adminKubeconfig', plane.kubeconfigs.admin);
  project.provide('controllerKubeconfig', plane.kubeconfigs.controller);
  project.provide('auditLog', plane.auditLog);
  project.provide('controlPlaneDir', plane.dir);
  return async () => {
    await plane.stop({ keepDir: process.env.KEEP_CONTROL_PLANE === '1' });
  };
}
