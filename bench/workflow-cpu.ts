/**
 * The worker's CPU per message workflow, by bundle variant, with activities that answer at once: it
 * isolates what the workflow sandbox costs (bundle evaluation, activations) from MongoDB, the model
 * and the network, so two bundles can be compared on a busy machine. Variants run in turns (A, B,
 * A, B, ...) in one process against one dev server, so drift in the machine's load hits each alike.
 *
 *   npx tsx bench/workflow-cpu.ts [--messages 300] [--rounds 3] [--concurrency 20]
 *
 * Reported per variant: the median over rounds of this process's CPU (main and workflow threads)
 * per completed workflow. See docs/benchmarks.md.
 */
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { parseArgs } from 'node:util';
import type { Activities } from '../src/activities/index.js';
import type { MessageWorkflowInput } from '../src/domain/models.js';
import { observabilitySinks, workflowInterceptorModules } from '../src/observability/worker-observability.js';
import { startTemporalDevServer } from '../src/stack/servers.js';
import { failureConverterPath } from '../src/temporal/data-converter.js';
import { workflowsPath } from '../src/worker/worker.js';

interface Variant {
  name: string;
  tracing: boolean;
  preloadModules?: string[];
}

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '20' },
  },
});
const messages = Number(values.messages);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

const variants: Variant[] = [
  { name: 'with the tracing interceptor bundled', tracing: true },
  { name: 'without it (tracing off)', tracing: false },
];

const silent = { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} };

/** The one-step text path: admitted, answered and delivered by `answerMessage`, closed by `closeMessage`. */
const stubActivities: Pick<Activities, 'answerMessage' | 'closeMessage'> = {
  async answerMessage(input) {
    return {
      kind: 'answered',
      partCount: 1,
      delivery: { delivered: 1, finished: true },
      snapshot: {
        channelId: input.channelId,
        agentId: 'agt_bench',
        pageId: input.pageId,
        replyWebhookUrl: 'http://127.0.0.1:9/reply',
        replyDelaySeconds: 0,
        voiceReplies: 'off',
        maxMessageLength: 500,
        voicePrefix: '',
        retryScheduleSeconds: [1],
      },
    };
  },
  async closeMessage() {},
};

function inputFor(variant: number, round: number, index: number): MessageWorkflowInput {
  const id = `${variant}-${round}-${index}`;
  return {
    messageId: `msg_bench_${id}`,
    chatId: `cht_bench_${id}`,
    channelId: 'chn_bench',
    pageId: 'page-bench',
    tokenVersion: 1,
    receivedAt: new Date().toISOString(),
    lineSeq: 1,
    modelStep: 'local',
    message: { client_id: `client-${id}`, platform: 'Bench', text: 'Hello there' },
  };
}

async function runRound(
  client: Client,
  connection: NativeConnection,
  bundle: WorkflowBundleWithSourceMap,
  variant: number,
  round: number,
): Promise<number> {
  const taskQueue = `workflow-cpu-${variant}-${round}`;
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: bundle,
    activities: stubActivities,
    sinks: observabilitySinks(undefined),
  });
  return worker.runUntil(async () => {
    // Warm up (the first workflows of a worker pay for its context), then measure.
    await runWorkflows(client, taskQueue, variant, -1 - round, 20);
    const before = process.cpuUsage();
    await runWorkflows(client, taskQueue, variant, round, messages);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000 / messages;
  });
}

async function runWorkflows(client: Client, taskQueue: string, variant: number, round: number, count: number) {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const input = inputFor(variant, round, next++);
      await client.workflow.execute('messageWorkflow', {
        taskQueue,
        workflowId: `bench-${input.messageId}`,
        args: [input],
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

Runtime.install({ logger: new DefaultLogger('WARN') });
const server = await startTemporalDevServer();
const connection = await NativeConnection.connect({ address: server.address });
const clientConnection = await Connection.connect({ address: server.address });
const client = new Client({ connection: clientConnection });
try {
  const bundles = await Promise.all(
    variants.map((variant) =>
      bundleWorkflowCode({
        workflowsPath,
        workflowInterceptorModules: workflowInterceptorModules({ tracing: variant.tracing }),
        failureConverterPath,
        ...(variant.preloadModules ? { preloadModules: variant.preloadModules } : {}),
        logger: silent,
      }),
    ),
  );
  const results = variants.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, bundle] of bundles.entries()) {
      const ms = await runRound(client, connection, bundle, index, round);
      results[index]?.push(ms);
      console.log(`round ${round + 1}: ${variants[index]?.name}: ${ms.toFixed(2)} ms CPU / workflow`);
    }
  }
  console.log(`\nworker CPU per message workflow (median of ${rounds} rounds of ${messages}, stub activities):`);
  for (const [index, variant] of variants.entries()) {
    console.log(`  ${median(results[index] ?? []).toFixed(2)} ms  ${variant.name}`);
  }
} finally {
  await clientConnection.close();
  await connection.close();
  await server.stop();
}
