/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): where the busy time went, by package or source
 * file and by function (self time). `npm run bench -- --profile` writes the profiles of the API and
 * worker processes and embeds these summaries in the results; run this file on any .cpuprofile too:
 *
 *   npx tsx bench/profile-summary.ts bench-results/profiles/worker/*.cpuprofile
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { projectRoot } from '../src/stack/tools.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  wallSeconds: number;
  /** Sampled time not idle, in seconds (JavaScript thread only: GC helpers and native threads are not in a CPU profile). */
  busySeconds: number;
  /** Share of busy time by package (node_modules), Node internals, this repository's files, GC and native. */
  byGroup: Array<{ group: string; seconds: number; percent: number }>;
  topFunctions: Array<{ fn: string; where: string; seconds: number; percent: number }>;
}

function groupOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (modules?.[1]) return modules[1];
  if (path.startsWith(projectRoot)) return relative(projectRoot, path);
  return path;
}

function shortWhere(url: string, line: number): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = /node_modules\/(.*)$/.exec(path);
  const shown = modules?.[1] ?? (path.startsWith(projectRoot) ? relative(projectRoot, path) : path);
  return `${shown}:${line + 1}`;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    // timeDeltas[i] is the time before sample i; attribute the following interval to it instead.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
  }
  const groups = new Map<string, number>();
  const functions = new Map<string, { fn: string; where: string; micros: number }>();
  let busy = 0;
  for (const [id, micros] of selfMicros) {
    const node = nodes.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busy += micros;
    const group = groupOf(url, functionName);
    groups.set(group, (groups.get(group) ?? 0) + micros);
    const fn = functionName || '(anonymous)';
    const where = shortWhere(url, lineNumber);
    const key = `${fn}@${where}`;
    const entry = functions.get(key) ?? { fn, where, micros: 0 };
    entry.micros += micros;
    functions.set(key, entry);
  }
  const percent = (micros: number): number => (busy > 0 ? Number(((micros / busy) * 100).toFixed(1)) : 0);
  return {
    file,
    wallSeconds: Number(((profile.endTime - profile.startTime) / 1e6).toFixed(1)),
    busySeconds: Number((busy / 1e6).toFixed(2)),
    byGroup: [...groups.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([group, micros]) => ({ group, seconds: Number((micros / 1e6).toFixed(2)), percent: percent(micros) })),
    topFunctions: [...functions.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, top)
      .map((entry) => ({
        fn: entry.fn,
        where: entry.where,
        seconds: Number((entry.micros / 1e6).toFixed(2)),
        percent: percent(entry.micros),
      })),
  };
}

export function formatProfileSummary(summary: ProfileSummary, rows = 15): string {
  const lines = [
    `${summary.file}: ${summary.busySeconds} s busy of ${summary.wallSeconds} s (JavaScript thread)`,
    '  by package / file:',
  ];
  for (const group of summary.byGroup.slice(0, rows))
    lines.push(
      `    ${group.percent.toFixed(1).padStart(5)}%  ${group.seconds.toFixed(2).padStart(7)} s  ${group.group}`,
    );
  lines.push('  top functions (self time):');
  for (const fn of summary.topFunctions.slice(0, rows))
    lines.push(
      `    ${fn.percent.toFixed(1).padStart(5)}%  ${fn.seconds.toFixed(2).padStart(7)} s  ${fn.fn}  ${fn.where}`,
    );
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile>...');
    process.exit(2);
  }
  for (const file of files) console.log(`${formatProfileSummary(summarizeProfile(file))}\n`);
}
