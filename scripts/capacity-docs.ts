/**
 * Writes the capacity table of docs/architecture.md (history events, workflow tasks and Temporal
 * Cloud billable actions per message, by path) from the archived histories of the release being
 * prepared: the workflow tests record them, and the replay test proves today's code makes them.
 * `npm run docs:capacity` regenerates it; test/replay/capacity.test.ts fails while the committed
 * table differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { capacityRows, capacityTable, withCapacityTable } from '../test/helpers/capacity.js';
import { archivedHistories, recordingRelease } from '../test/helpers/history-archive.js';

export const architectureDocPath = fileURLToPath(new URL('../docs/architecture.md', import.meta.url));

/** docs/architecture.md as it should read, with the table rendered from the archive. */
export function renderArchitectureDoc(): string {
  const table = capacityTable(capacityRows(archivedHistories(), recordingRelease));
  return withCapacityTable(readFileSync(architectureDocPath, 'utf8'), table);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(architectureDocPath, renderArchitectureDoc());
  console.log(`wrote the capacity table of ${architectureDocPath}`);
}
