#!/usr/bin/env node
// Launcher of the `chatrelay` CLI (package.json "bin"): runs the TypeScript source through tsx,
// resolved from this package, so it works from any directory.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
