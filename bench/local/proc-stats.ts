/**
 * CPU time and memory of a process from /proc (Linux): ztunnel's cost during a benchmark phase.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS = 100;

export interface ProcSample {
  /** CPU seconds (user + system) since the process started. */
  cpuSeconds: number;
  /** Resident set size, bytes. */
  rssBytes: number;
  /** Peak resident set size so far, bytes. */
  hwmBytes: number;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(f[11]) + Number(f[12])) / TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { cpuSeconds, rssBytes: kb('VmRSS') * 1024, hwmBytes: kb('VmHWM') * 1024 };
  } catch {
    return undefined;
  }
}

export interface ProcUsage {
  /** CPU time over wall time, in cores (1 = one core busy all the time). */
  cores: number;
  /** CPU µs per request (or per MB for bulk), when a count is given. */
  cpuUsPerUnit?: number;
  /** Largest resident set size seen during the phase, MB. */
  rssMb: number;
}

/** Watches some processes during a phase: CPU from start to stop, the largest RSS from samples. */
export class ProcWatch {
  private readonly start = new Map<number, ProcSample>();
  private readonly maxRss = new Map<number, number>();
  private t0 = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: ReadonlyMap<string, number>) {}

  begin(): void {
    this.t0 = performance.now();
    for (const pid of this.pids.values()) {
      const s = sampleProc(pid);
      if (s) this.start.set(pid, s);
      this.maxRss.set(pid, s?.rssBytes ?? 0);
    }
    this.timer = setInterval(() => this.poll(), 250);
    this.timer.unref();
  }

  private poll(): void {
    for (const pid of this.pids.values()) {
      const s = sampleProc(pid);
      if (s) this.maxRss.set(pid, Math.max(this.maxRss.get(pid) ?? 0, s.rssBytes));
    }
  }

  end(units?: number): Record<string, ProcUsage> {
    clearInterval(this.timer);
    this.poll();
    const wall = (performance.now() - this.t0) / 1000;
    const out: Record<string, ProcUsage> = {};
    for (const [name, pid] of this.pids) {
      const a = this.start.get(pid);
      const b = sampleProc(pid);
      const cpu = a && b ? b.cpuSeconds - a.cpuSeconds : NaN;
      out[name] = {
        cores: cpu / wall,
        ...(units ? { cpuUsPerUnit: (cpu * 1e6) / units } : {}),
        rssMb: (this.maxRss.get(pid) ?? NaN) / 1048576,
      };
    }
    return out;
  }
}
