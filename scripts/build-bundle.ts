// Bundles the workflow code ahead of time, so workers start without webpack (used by the image).
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { tracedBundlePath, workflowInterceptorModules } from '../src/observability/worker-observability.js';
import { failureConverterPath } from '../src/temporal/data-converter.js';
import { workflowsPath } from '../src/worker/worker.js';

const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
// The same interceptors the worker registers when it bundles at start (log context, reply-delay gauge),
// and the same failure converter (failure messages encoded, so the payload codec encrypts them).
// Two bundles: without tracing, and with it (the worker loads `*.traced.js` when OTEL_* variables
// turn tracing on); the tracing interceptor alone is most of a bundle's per-workflow start cost.
mkdirSync(dirname(out), { recursive: true });
for (const tracing of [false, true]) {
  const path = tracing ? tracedBundlePath(out) : out;
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: workflowInterceptorModules({ tracing }),
    failureConverterPath,
  });
  writeFileSync(path, code);
  console.log(`workflow bundle written to ${path} (${code.length} bytes)`);
}
