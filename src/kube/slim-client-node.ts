/**
 * client-node's KubeConfig (auth: tokens, certificates, exec plugins, in-cluster) is what the controller needs of
 * it; its config.js imports two factories for makeApiClient from the generated index, which loads every API
 * class and model (about 40 MiB of a controller's memory). This resolve hook gives config.js a module with just
 * those two factories, from the same files, so KubeConfig is the same class. Registered before the controller's
 * modules load (src/cli/main.ts); code that imports the full index still gets it (and shares its modules).
 */
import { registerHooks } from 'node:module';

const CONFIG = '/@kubernetes/client-node/dist/config.js';

/** What config.js imports from './gen/index.js', by file (a unit test checks the list against config.js). */
export const CONFIG_GEN_IMPORTS: Readonly<Record<string, string>> = {
  createConfiguration: 'configuration.js',
  ServerConfiguration: 'servers.js',
};

export function slimModule(configURL: string): string {
  const gen = new URL('./gen/', configURL);
  const lines = Object.entries(CONFIG_GEN_IMPORTS).map(
    ([name, file]) => `export { ${name} } from ${JSON.stringify(new URL(file, gen).href)};`,
  );
  return `data:text/javascript,${encodeURIComponent(lines.join('\n'))}`;
}

let registered = false;

export function registerSlimClientNode(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, next) {
      if (specifier === './gen/index.js' && context.parentURL?.endsWith(CONFIG)) {
        return { url: slimModule(context.parentURL), format: 'module', shortCircuit: true };
      }
      return next(specifier, context);
    },
  });
}
