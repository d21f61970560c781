// What the whole-pipeline bench samples every second besides its counts: the CPU of each process
// (and, for the pipeline's own process, of its kinds of threads), the event loop delay of the
// pipeline process, what its memory is made of, and the lag of each consumer group.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Kafka } from '@nanobill/kafka';
import { threadKind, type ThreadKind } from './pipeline-figures.js';

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds from a /proc `stat` line; undefined when the file is gone. */
function statCpuSeconds(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined; // the thread or process ended between the check and the read
  }
  // After the command name (in parentheses, may hold spaces): state is field 3, utime 14, stime 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds of a process, all its threads. */
export function processCpuSeconds(pid: number): number | undefined {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of this process's threads, summed by kind (JS thread, V8 helpers, ClickHouse…). */
export function threadCpuSeconds(pid = process.pid): Record<ThreadKind, number> {
  const sums: Record<ThreadKind, number> = { js: 0, v8: 0, libuv: 0, clickhouse: 0 };
  const dir = `/proc/${pid}/task`;
  for (const tid of readdirSync(dir)) {
    const seconds = statCpuSeconds(`${dir}/${tid}/stat`);
    if (seconds === undefined) continue;
    let name = '';
    try {
      name = readFileSync(`${dir}/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    sums[threadKind(Number(tid) === pid, name)] += seconds;
  }
  return sums;
}

/**
 * Seconds a thread of this process has waited for a CPU while runnable (/proc schedstat): an
 * event loop delay with little CPU behind it but this growing is a starved process, not a busy one.
 */
export function runQueueWaitSeconds(tid = process.pid): number {
  const path = `/proc/${process.pid}/task/${tid}/schedstat`;
  if (!existsSync(path)) return 0;
  return Number(readFileSync(path, 'utf8').split(' ')[1]) / 1e9;
}

/** The machine's busy and total CPU seconds (all cores) from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const values = ticks.map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** RSS of a process in MiB (0 once it has ended). */
export function rssMiB(pid: number | undefined): number {
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) return 0;
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

/**
 * The event loop delay of this process since the previous `take()`: how long a timer due now
 * waited for the JS thread (a round's synchronous work shows here, ClickHouse's threads do not).
 */
export function eventLoopProbe(): { take(): { p99Ms: number; maxMs: number }; stop(): void } {
  // 10 ms resolution: finer than the 1 s sampling, coarse enough to cost nothing.
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    take() {
      const figures = {
        p99Ms: Math.round(histogram.percentile(99) / 1e6),
        maxMs: Math.round(histogram.max / 1e6),
      };
      histogram.reset();
      return figures;
    },
    stop: () => histogram.disable(),
  };
}

/** What the pipeline process's memory is made of, in MiB. */
export interface MemoryParts {
  rss: number;
  /** V8's heap (JS objects), as reserved. */
  heapTotal: number;
  heapUsed: number;
  /** Memory held for JS objects outside the heap (Buffers, ArrayBuffers). */
  external: number;
  /** What embedded ClickHouse's own allocator says it holds (its `MemoryTracking`). */
  clickhouse: number;
  /** RSS by kind (/proc status): mapped files (code: node, libchdb) and anonymous memory. */
  rssFile: number;
  rssAnon: number;
}

export async function memoryParts(clickhouse: ClickHouseClient): Promise<MemoryParts> {
  const usage = process.memoryUsage();
  const result = await clickhouse.query({
    query: `SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'`,
    format: 'JSONCompactEachRow',
  });
  const tracked = Number((await result.json<[string]>())[0]?.[0] ?? 0);
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    rssFile: Math.round(kib('RssFile') / 1024),
    rssAnon: Math.round(kib('RssAnon') / 1024),
    rss: mib(usage.rss),
    heapTotal: mib(usage.heapTotal),
    heapUsed: mib(usage.heapUsed),
    external: mib(usage.external),
    clickhouse: mib(tracked),
  };
}

/**
 * The lag of each consumer group on `topic`, as the broker sees it: its end offsets minus what
 * the group has committed (what a crash now would make it read again).
 */
export function groupLagReader(
  kafka: Kafka,
  topic: string,
  groups: Readonly<Record<string, string>>,
): { read(): Promise<Record<string, number>>; close(): Promise<void> } {
  const admin = kafka.admin();
  const connected = admin.connect();
  return {
    async read() {
      await connected;
      const ends = await admin.fetchTopicOffsets(topic);
      const lags: Record<string, number> = {};
      for (const [name, groupId] of Object.entries(groups)) {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const at = new Map(
          (committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
        );
        lags[name] = ends.reduce((sum, end) => {
          const offset = at.get(end.partition) ?? -1;
          return sum + Number(end.high) - (offset < 0 ? Number(end.low) : offset);
        }, 0);
      }
      return lags;
    },
    async close() {
      await connected.catch(() => undefined);
      await admin.disconnect();
    },
  };
}
