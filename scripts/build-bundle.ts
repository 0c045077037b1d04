// Bundles the workflow code ahead of time, so workers start without webpack (used by the image).
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { workflowInterceptorModules } from '../src/observability/worker.js';
import { failureConverterPath } from '../src/temporal/data-converter.js';
import { workflowsPath } from '../src/worker/worker.js';

const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
// The same interceptors the worker registers when it bundles at start (log context, reply-delay gauge),
// and the same failure converter (failure messages encoded, so the payload codec encrypts them).
const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules, failureConverterPath });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, code);
console.log(`workflow bundle written to ${out} (${code.length} bytes)`);
