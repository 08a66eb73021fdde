/** The slim KubeConfig loading (src/kube/slim-client-node.ts): same classes, and it still covers config.js. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as full from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CONFIG_GEN_IMPORTS, slimModule } from '../../src/kube/slim-client-node.ts';

const dist = dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node'));
const configURL = pathToFileURL(join(dist, 'config.js')).href;

describe('the slim client-node index for config.js', () => {
  it('provides exactly what config.js imports from the generated index', () => {
    const source = readFileSync(join(dist, 'config.js'), 'utf8');
    const imports = [...source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'\.\/gen\/index\.js'/g)].flatMap((m) =>
      (m[1] as string)
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    );
    expect(imports.sort()).toEqual(Object.keys(CONFIG_GEN_IMPORTS).sort());
  });

  it('re-exports the very objects the full index exports', async () => {
    const slim = (await import(slimModule(configURL))) as Record<string, unknown>;
    for (const name of Object.keys(CONFIG_GEN_IMPORTS)) {
      expect(slim[name], name).toBeDefined();
      expect(slim[name], name).toBe((full as Record<string, unknown>)[name]);
    }
  });
});
