import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundle } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tool } from '../../src/stack/tools.js';
import { temporalDataConverter } from '../../src/temporal/data-converter.js';
import { createEncryptionCodec } from '../../src/temporal/payload-codec.js';
import { registerSearchAttributes } from '../../src/temporal/search-attribute-registry.js';
import { sharedBundleFile } from './bundles.js';
import { longWaitChecksInterceptorPath } from './long-wait-checks.js';

/**
 * The payload codec of the workflow tests, as production configures it (src/temporal), with a
 * fixed key: histories recorded by the tests (RECORD_HISTORIES=1) stay replayable with it.
 */
export const testPayloadCodec = createEncryptionCodec({
  keys: [{ id: 'test-1', key: createHash('sha256').update('chatrelay test payload key').digest() }],
  encrypt: true,
});
export const testDataConverter: DataConverter = temporalDataConverter(testPayloadCodec);

/**
 * The time-skipping test server, from the binary scripts/provision.sh installed; its client uses
 * `dataConverter` when given. chatrelay's search attributes are registered on it (it has no start-up
 * flag for them, and refuses a start or an upsert naming one it does not know).
 */
export async function createTimeSkippingEnv(
  options: { dataConverter?: DataConverter } = {},
): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: tool('temporal-test-server') } },
    ...(options.dataConverter ? { client: { dataConverter: options.dataConverter } } : {}),
  });
  try {
    await registerSearchAttributes(env.connection.operatorService, env.namespace ?? 'default');
  } catch (error) {
    await env.teardown();
    throw error;
  }
  return env;
}

/**
 * The workflow interceptors every test bundle carries, on top of any of production's: the tests'
 * long-wait interceptor (test/helpers/long-wait-checks.ts), which does nothing unless a workflow is
 * started with its header. A history recorded with the header replays only with it.
 */
export const testWorkflowInterceptorModules = [longWaitChecksInterceptorPath];

/**
 * Workflow code bundled with the tests' interceptors and production's failure converter, built once
 * per test run and shared by its files (test/helpers/bundles.ts); every worker of a file reuses it.
 */
export async function bundle(workflowsPath: string): Promise<WorkflowBundle> {
  const file = await sharedBundleFile({ workflowsPath, workflowInterceptorModules: testWorkflowInterceptorModules });
  return { code: readFileSync(file, 'utf8') };
}

/** The durations, in seconds, of the timers that fired in a workflow's history, in order (a cancelled timer is left out). */
export async function firedTimers(handle: WorkflowHandle): Promise<number[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const started = new Map<string, number>();
  for (const event of events) {
    const attributes = event.timerStartedEventAttributes;
    if (attributes?.timerId) started.set(attributes.timerId, Number(attributes.startToFireTimeout?.seconds ?? 0));
  }
  return events.flatMap((event) => {
    const id = event.timerFiredEventAttributes?.timerId;
    return id ? [started.get(id) ?? -1] : [];
  });
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** What `pick` makes of each event of a workflow's history, in order (events it gives undefined for left out). */
export async function fromHistory<T>(
  handle: WorkflowHandle,
  pick: (event: HistoryEvent) => T | undefined,
): Promise<T[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.flatMap((event) => {
    const picked = pick(event);
    return picked === undefined ? [] : [picked];
  });
}

/**
 * The activity an event schedules, by type: a regular activity's ActivityTaskScheduled, or a local
 * activity's marker (its data, written by the SDK's core as plain JSON, names the type).
 */
export function scheduledActivityType(event: HistoryEvent): string | undefined {
  const regular = event.activityTaskScheduledEventAttributes?.activityType?.name;
  if (regular) return regular;
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string };
  return parsed.activity_type;
}

/** The history's event types by name (`EVENT_TYPE_…`), in order. */
export async function historyEventTypes(handle: WorkflowHandle): Promise<string[]> {
  const { EventType } = proto.temporal.api.enums.v1;
  return fromHistory(handle, (event) => String(EventType[event.eventType ?? 0]));
}
