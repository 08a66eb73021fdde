#!/usr/bin/env node
// The package's command. Node >= 24 runs the TypeScript sources directly (type stripping); a published
// build would point here at compiled JavaScript instead. The image's controller runs its bundle (one JavaScript
// file, no type stripping: src/cli/controller-bundle.ts), named by MCP_OPERATOR_CONTROLLER_BUNDLE.
import { createRequire } from 'node:module';

const bundle = process.env.MCP_OPERATOR_CONTROLLER_BUNDLE;
if (process.argv[2] === 'controller' && bundle) createRequire(import.meta.url)(bundle);
else await import('../src/cli/main.ts');
