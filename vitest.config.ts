import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // One real control plane is shared by the files; they use separate namespaces but one CPU budget.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          // Builds the images with buildah (minutes the first time, cached after) and runs them under runc.
          name: 'image',
          include: ['test/image/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 1_800_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: ['test/e2e/up.test.ts'],
          // A real single-node cluster (root: containerd, kubelet, kube-proxy), started once and shared by the files.
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          // `mcp-operator up` as a user runs it: it starts its own node, so it runs apart from the e2e project's.
          name: 'e2e-up',
          include: ['test/e2e/up.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 1_800_000,
        },
      },
      {
        test: {
          name: 'gateway',
          include: ['test/gateway/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
