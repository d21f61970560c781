// Where a process's CPU goes, by thread (Linux /proc): the JavaScript main thread, V8's helper
// threads (concurrent GC, compilation) and embedded ClickHouse (chdb's queries run on libuv's
// worker threads, ClickHouse's own pools and background merges beside them). A figure per event
// says which of them sets the floor on a box of two cores.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock ticks per second for /proc's utime and stime (USER_HZ). */
const TICKS_PER_SECOND = 100;

export type ThreadGroup = 'javascript' | 'v8 helpers' | 'clickhouse';

/** CPU seconds so far of this process's threads, by group; empty where /proc is absent. */
export function threadCpuSeconds(): Partial<Record<ThreadGroup, number>> {
  const seconds: Partial<Record<ThreadGroup, number>> = {};
  let tasks: string[] = [];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return seconds;
  }
  for (const task of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const group = groupOf(name);
    seconds[group] =
      (seconds[group] ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  }
  return seconds;
}

function groupOf(threadName: string): ThreadGroup {
  if (threadName === 'node-MainThread' || threadName === 'node') return 'javascript';
  if (threadName.startsWith('node-') || threadName.startsWith('V8')) return 'v8 helpers';
  return 'clickhouse';
}

/** Microseconds of CPU per event of each group between two readings. */
export function microsecondsPerEvent(
  before: Partial<Record<ThreadGroup, number>>,
  after: Partial<Record<ThreadGroup, number>>,
  events: number,
): Partial<Record<ThreadGroup, number>> {
  return Object.fromEntries(
    Object.entries(after).map(([group, s]) => [
      group,
      Math.round(((s - (before[group as ThreadGroup] ?? 0)) * 1e6) / events),
    ]),
  );
}
