/**
 * CPU time and memory of processes, read from /proc (Linux only). CPU time includes every thread
 * of the process (for the worker: the JavaScript thread, V8's GC threads and the Temporal core's
 * Rust threads), so it is what the process cost the machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of a /proc stat line, in seconds. */
function cpuOfStat(stat: string): number {
  // The command name (field 2) may contain spaces; the fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** CPU seconds used so far by a process (all its threads), or undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    return cpuOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** VmRSS (now) and VmHWM (peak since start) of a process, in MiB. */
export function memory(pid: number): { rssMiB: number; hwmMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds per thread name (e.g. `node`, `tokio-runtime-w`, `V8Worker`), summed over threads of that name. */
export function cpuByThread(pid: number): Record<string, number> {
  const result: Record<string, number> = {};
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return result;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      result[name] = (result[name] ?? 0) + cpuOfStat(stat);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return result;
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface ProcessReport {
  pid: number;
  /** CPU seconds spent during the measured window. */
  cpuSeconds: number | null;
  /** cpuSeconds / window length: 1.0 is one core fully busy. */
  cores: number | null;
  /** Highest VmRSS seen by the sampler during the window. */
  peakRssMiB: number | null;
  /** VmHWM at the end of the window: the peak since the process started (includes start-up). */
  hwmMiB: number | null;
  /** CPU seconds per thread name during the window (only for processes asked to be broken down). */
  threads?: Record<string, number>;
}

export interface ProcessTimelinePoint {
  atS: number;
  cores: Record<string, number>;
  machineBusyPercent: number;
}

/**
 * Samples named processes once a second between start() and stop(): CPU seconds in the window,
 * the highest RSS seen, and a per-second timeline of cores used, to see which one saturates first.
 */
export class ProcessSampler {
  private readonly startCpu = new Map<string, number>();
  private readonly lastCpu = new Map<string, number>();
  private readonly peakRss = new Map<string, number>();
  private readonly startThreads = new Map<string, Record<string, number>>();
  private readonly timelinePoints: ProcessTimelinePoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private lastAt = 0;
  private startMachine = { busy: 0, total: 0 };
  private lastMachine = { busy: 0, total: 0 };

  constructor(
    private readonly pids: Readonly<Record<string, number>>,
    private readonly breakDown: readonly string[] = [],
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.lastAt = this.startedAt;
    this.startMachine = machineTicks();
    this.lastMachine = this.startMachine;
    for (const [name, pid] of Object.entries(this.pids)) {
      const cpu = cpuSeconds(pid);
      if (cpu !== undefined) {
        this.startCpu.set(name, cpu);
        this.lastCpu.set(name, cpu);
      }
      if (this.breakDown.includes(name)) this.startThreads.set(name, cpuByThread(pid));
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), 1_000);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.now();
    const seconds = (now - this.lastAt) / 1000;
    const cores: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const mem = memory(pid);
      if (mem && Number.isFinite(mem.rssMiB)) this.peakRss.set(name, Math.max(this.peakRss.get(name) ?? 0, mem.rssMiB));
      const cpu = cpuSeconds(pid);
      const last = this.lastCpu.get(name);
      if (cpu !== undefined && last !== undefined && seconds > 0)
        cores[name] = Number(((cpu - last) / seconds).toFixed(2));
      if (cpu !== undefined) this.lastCpu.set(name, cpu);
    }
    const machine = machineTicks();
    if (seconds > 0.5) {
      const total = machine.total - this.lastMachine.total;
      const busyPercent = total > 0 ? ((machine.busy - this.lastMachine.busy) / total) * 100 : 0;
      this.timelinePoints.push({
        atS: Number(((now - this.startedAt) / 1000).toFixed(1)),
        cores,
        machineBusyPercent: Number(busyPercent.toFixed(1)),
      });
    }
    this.lastMachine = machine;
    this.lastAt = now;
  }

  /** Ends the window and reports every process. */
  stop(): {
    windowSeconds: number;
    machineBusyPercent: number;
    /** Cores busy with processes other than the sampled ones (other work on the machine): a noisy neighbour shows here. */
    otherCores: number;
    processes: Record<string, ProcessReport>;
    timeline: ProcessTimelinePoint[];
  } {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const windowSeconds = (performance.now() - this.startedAt) / 1000;
    const machine = machineTicks();
    const total = machine.total - this.startMachine.total;
    const machineBusyPercent =
      total > 0 ? Number((((machine.busy - this.startMachine.busy) / total) * 100).toFixed(1)) : 0;
    const processes: Record<string, ProcessReport> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const begin = this.startCpu.get(name);
      const end = cpuSeconds(pid) ?? this.lastCpu.get(name);
      const used = begin !== undefined && end !== undefined ? end - begin : null;
      const mem = memory(pid);
      const report: ProcessReport = {
        pid,
        cpuSeconds: used === null ? null : Number(used.toFixed(2)),
        cores: used === null ? null : Number((used / windowSeconds).toFixed(3)),
        peakRssMiB: this.peakRss.has(name) ? Number((this.peakRss.get(name) ?? 0).toFixed(1)) : null,
        hwmMiB: mem && Number.isFinite(mem.hwmMiB) ? Number(mem.hwmMiB.toFixed(1)) : null,
      };
      const before = this.startThreads.get(name);
      if (before) {
        const after = cpuByThread(pid);
        const threads: Record<string, number> = {};
        for (const [thread, seconds] of Object.entries(after)) {
          const delta = seconds - (before[thread] ?? 0);
          if (delta >= 0.01) threads[thread] = Number(delta.toFixed(2));
        }
        report.threads = threads;
      }
      processes[name] = report;
    }
    const ours = Object.values(processes).reduce((sum, report) => sum + (report.cores ?? 0), 0);
    const otherCores = Math.max(0, (machineBusyPercent / 100) * cpus().length - ours);
    return {
      windowSeconds: Number(windowSeconds.toFixed(2)),
      machineBusyPercent,
      otherCores: Number(otherCores.toFixed(2)),
      processes,
      timeline: this.timelinePoints,
    };
  }
}

/** Cores busy on the whole machine over `ms` (before a phase: anything here is someone else's work). */
export async function machineBusyCores(ms = 2_000): Promise<number> {
  const before = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineTicks();
  const total = after.total - before.total;
  return total > 0 ? Number((((after.busy - before.busy) / total) * cpus().length).toFixed(2)) : 0;
}
