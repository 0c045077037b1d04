/**
 * Runs the demo model as its own process: what the local stack answers with when no OPENAI_API_KEY
 * is set (./scripts/stack.sh), and the model of the benchmark.
 *
 * Environment:
 *   PORT                   port to listen on; 0 (default) lets the kernel choose
 *   DEMO_MODEL_HOST        bind address, default 127.0.0.1 (not HOST, which the API server uses)
 *   DEMO_MODEL_LATENCY_MS  delay before every answer, default 0
 *   DEMO_MODEL_API_KEY     when set, requests must send it as a Bearer token
 *
 * Once listening it prints one JSON line `{"baseURL":"http://127.0.0.1:PORT/v1"}` on stdout, which
 * is how a parent that asked for port 0 learns the address. SIGTERM/SIGINT close it cleanly.
 */
import { startDemoModel } from './server.js';

function intFromEnv(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`${name} must be an integer between 0 and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

async function main(): Promise<void> {
  const fake = await startDemoModel({
    port: intFromEnv('PORT', 0, 65_535),
    host: process.env['DEMO_MODEL_HOST'] || '127.0.0.1',
    latencyMs: intFromEnv('DEMO_MODEL_LATENCY_MS', 0, 600_000),
    apiKey: process.env['DEMO_MODEL_API_KEY'] || undefined,
  });
  process.stdout.write(`${JSON.stringify({ baseURL: fake.baseURL })}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    // A second signal means the parent is impatient; do not wait for close again.
    if (stopping) process.exit(1);
    stopping = true;
    fake.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`demo-model: error while closing on ${signal}:`, error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error('demo-model failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
