import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { WorkflowHandle } from '@temporalio/client';
import { WORKFLOW_ID_METADATA } from '../../src/temporal/payload-codec.js';

/**
 * The archive of recorded histories: a folder per release (`1.0/`), each history recorded by the
 * workflow tests with that release's code. Every release's histories replay against today's code
 * (test/replay/replay.test.ts), so the archive only grows: a release adds its folder, and a
 * folder is never changed once its release is out.
 */
export const historiesDir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
/** The release being prepared: RECORD_HISTORIES=1 records into its folder. The next release's work bumps it. */
export const recordingRelease = '1.0';

/** Saves a finished workflow's history as a replay fixture of `recordingRelease` when RECORD_HISTORIES=1; never over an archived one. */
export async function recordHistory(name: string, handle: Pick<WorkflowHandle, 'fetchHistory'>): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const dir = `${historiesDir}${recordingRelease}/`;
  const file = `${dir}${name}.json`;
  if (existsSync(file)) return; // the archive only grows: a changed history is a new file
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, historyToJSON(await handle.fetchHistory()));
}

export interface ArchivedHistory {
  release: string;
  /** The file's name without `.json`. */
  name: string;
  workflowType: string;
  /**
   * The id of the workflow it was recorded from: the payload codec binds each payload to it (read
   * from the start event's input), so a replay must present the same id. Histories recorded before
   * the binding carry none, and replay under their name.
   */
  workflowId: string;
  json: unknown;
}

interface StartEvent {
  workflowExecutionStartedEventAttributes?: {
    workflowType?: { name?: string };
    input?: { payloads?: Array<{ metadata?: Record<string, string> }> };
  };
}

function boundWorkflowId(start: StartEvent | undefined): string | undefined {
  const bound = start?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.metadata?.[WORKFLOW_ID_METADATA];
  return bound === undefined ? undefined : Buffer.from(bound, 'base64').toString('utf8');
}

/** Every archived history, by release (oldest first), then by name. */
export function archivedHistories(): ArchivedHistory[] {
  const releases = readdirSync(historiesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return releases.flatMap((release) =>
    readdirSync(`${historiesDir}${release}`)
      .filter((file) => file.endsWith('.json'))
      .sort()
      .map((file) => {
        const json = JSON.parse(readFileSync(`${historiesDir}${release}/${file}`, 'utf8')) as { events: StartEvent[] };
        const name = file.replace(/\.json$/, '');
        return {
          release,
          name,
          workflowType: String(json.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name),
          workflowId: boundWorkflowId(json.events[0]) ?? name,
          json,
        };
      }),
  );
}
