import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime of one process in seconds, its command name and parent; undefined once it is gone. */
function processCpu(pid: string): { command: string; parent: number; seconds: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the command name; in clock ticks (100/s).
  return { command: stat.slice(stat.indexOf('(') + 1, close), parent: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / 100 };
}

function livePids(): string[] {
  try {
    return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
}

/** CPU seconds used so far by live processes whose command name starts with each prefix (Linux /proc). */
export function cpuSecondsByCommand(prefixes: readonly string[]): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(prefixes.map((prefix) => [prefix, 0]));
  for (const pid of livePids()) {
    const usage = processCpu(pid);
    const prefix = usage === undefined ? undefined : prefixes.find((candidate) => usage.command.startsWith(candidate));
    if (usage !== undefined && prefix !== undefined) totals[prefix] = (totals[prefix] ?? 0) + usage.seconds;
  }
  return totals;
}

/** CPU seconds used so far by one process and its live children (0 when it cannot be read). */
export function cpuSecondsOfProcessTree(pid: number): number {
  let total = processCpu(String(pid))?.seconds ?? 0;
  for (const child of livePids()) {
    const usage = processCpu(child);
    if (usage?.parent === pid) total += usage.seconds;
  }
  return total;
}

/** CPU seconds so far of this node process, Redis and every Postgres backend. */
export interface CpuSnapshot {
  node: number;
  redis: number;
  postgres: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  const others = cpuSecondsByCommand(['redis-server', 'postgres']);
  return { node: (usage.user + usage.system) / 1e6, redis: others['redis-server'] ?? 0, postgres: others.postgres ?? 0 };
}

/** The CPU each part used between two snapshots, in µs per job and as cores busy over the wall time. */
export function describeCpu(phase: string, before: CpuSnapshot, after: CpuSnapshot, jobs: number, wallSeconds: number): string {
  const parts = (['node', 'redis', 'postgres'] as const).map((part) => {
    const seconds = after[part] - before[part];
    return `${part} ${((seconds / jobs) * 1e6).toFixed(0)} µs/job (${(seconds / wallSeconds).toFixed(2)} cores)`;
  });
  return `  ${phase} CPU: ${parts.join(', ')}`;
}
