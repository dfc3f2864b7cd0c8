import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds used so far by live processes whose command name starts with each prefix (Linux /proc). */
export function cpuSecondsByCommand(prefixes: readonly string[]): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(prefixes.map((prefix) => [prefix, 0]));
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return totals;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const command = stat.slice(open + 1, close);
    const prefix = prefixes.find((candidate) => command.startsWith(candidate));
    if (prefix === undefined) continue;
    const fields = stat.slice(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the command name; in clock ticks (100/s).
    totals[prefix] = (totals[prefix] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return totals;
}
