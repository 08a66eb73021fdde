#!/usr/bin/env node
// The package's command. Node >= 24 runs the TypeScript sources directly (type stripping); a published
// build would point here at compiled JavaScript instead.
import '../src/cli/main.ts';
