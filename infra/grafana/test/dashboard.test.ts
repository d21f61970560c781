import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetricsRegistry } from '@nanobill/observability';
import { describe, expect, it } from 'vitest';

// Keeps infra/grafana/nanobill-dashboard.json honest: it must parse, lay out on Grafana's
// 24-column grid, and query only metrics the code defines; every service metric must be on it.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dashboardPath = join(root, 'infra/grafana/nanobill-dashboard.json');

type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * Default Node process metrics the dashboard uses. They are not declared with `name: '…'` in
 * the source: `collectDefaultMetrics({ prefix: 'nanobill_' })` in
 * packages/observability/src/metrics.ts registers them (prom-client). The last test checks each
 * against a real registry, so a prom-client upgrade that renames one fails here.
 */
const PROCESS_METRICS: Record<string, MetricType> = {
  nanobill_process_resident_memory_bytes: 'gauge',
  nanobill_process_cpu_seconds_total: 'counter',
  nanobill_process_start_time_seconds: 'gauge',
  nanobill_nodejs_eventloop_lag_p99_seconds: 'gauge',
  nanobill_nodejs_heap_size_used_bytes: 'gauge',
  nanobill_nodejs_gc_duration_seconds: 'histogram',
};

/**
 * Metrics defined under services/<name>/src that deliberately have no panel, with the reason.
 * Empty today: every service metric is on the dashboard.
 */
const NOT_ON_DASHBOARD: Record<string, string> = {};

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Panel {
  id: number;
  type: string;
  title?: string;
  collapsed?: boolean;
  datasource?: { type?: string; uid?: string };
  gridPos: GridPos;
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
}
interface Dashboard {
  __inputs?: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const raw = readFileSync(dashboardPath, 'utf8');
const dashboard = JSON.parse(raw) as Dashboard;

/** Every panel, rows included, with the children of collapsed rows. */
function allPanels(): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}
const queryPanels = () => allPanels().filter((p) => p.type !== 'row');

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      // Tests may declare throwaway metrics; only shipped code counts.
      if (['node_modules', 'test', 'dist', '.data'].includes(entry.name)) return [];
      return tsFiles(path);
    }
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** `name: 'nanobill_…'` in the .ts sources under packages/, services/ and cli/, with its type. */
function definedMetrics(): Map<string, { type: MetricType; file: string }> {
  const found = new Map<string, { type: MetricType; file: string }>();
  for (const file of ['packages', 'services', 'cli'].flatMap((d) => tsFiles(join(root, d)))) {
    const source = readFileSync(file, 'utf8');
    const names = [...source.matchAll(/name: '(nanobill_[a-z0-9_]+)'/g)].map((m) => m[1]!);
    const typed = new Map(
      [
        ...source.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '(nanobill_[a-z0-9_]+)'/g),
      ].map((m) => [m[2]!, m[1]!.toLowerCase() as MetricType]),
    );
    for (const name of names) {
      const type = typed.get(name);
      // A name whose constructor this test cannot see would make the type checks below blind.
      if (!type) throw new Error(`${relative(root, file)}: cannot tell the type of ${name}`);
      found.set(name, { type, file: relative(root, file) });
    }
  }
  return found;
}

const defined = definedMetrics();
const known = new Map<string, MetricType>([
  ...[...defined].map(([name, { type }]) => [name, type] as const),
  ...Object.entries(PROCESS_METRICS),
]);

/** The metric families an expression reads (histogram series suffixes stripped). */
function familiesIn(expr: string): { series: string; family: string }[] {
  return [...expr.matchAll(/nanobill_[a-z0-9_]+/g)].map(([series]) => {
    const stripped = series.replace(/_(bucket|sum|count)$/, '');
    const family = !known.has(series) && known.get(stripped) === 'histogram' ? stripped : series;
    return { series, family };
  });
}

function variableQuery(v: Variable): string {
  return typeof v.query === 'string' ? v.query : (v.query?.query ?? v.definition ?? '');
}

const panelExprs = () =>
  queryPanels().flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title ?? `#${p.id}`, expr: t.expr ?? '' })),
  );

describe('Grafana dashboard', () => {
  it('parses, has schemaVersion 39+, and imports against any Prometheus data source', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.__inputs).toContainEqual(
      expect.objectContaining({
        name: 'DS_PROMETHEUS',
        type: 'datasource',
        pluginId: 'prometheus',
      }),
    );
    const variables = dashboard.templating.list;
    expect(variables.find((v) => v.name === 'DS_PROMETHEUS')?.type).toBe('datasource');
    for (const name of ['job', 'instance']) {
      const variable = variables.find((v) => v.name === name);
      expect(variable?.type, name).toBe('query');
      expect(variableQuery(variable!), name).toContain(`, ${name})`);
    }
    // Every ${var} / $var used is declared (or a Grafana built-in such as $__range).
    const declared = new Set([
      ...variables.map((v) => v.name),
      ...(dashboard.__inputs ?? []).map((i) => i.name),
    ]);
    const used = [...raw.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    expect(used.filter((name) => !name.startsWith('__') && !declared.has(name))).toEqual([]);
    // No data source is pinned to one Grafana's uid.
    const uids = [...raw.matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]);
    expect(uids.filter((uid) => uid !== '${DS_PROMETHEUS}' && uid !== '-- Grafana --')).toEqual([
      dashboard.uid,
    ]);
  });

  it('gives every panel a title, the Prometheus data source and at least one query', () => {
    expect(queryPanels().length).toBeGreaterThan(0);
    for (const row of allPanels().filter((p) => p.type === 'row')) {
      expect(row.title, `row #${row.id}`).toBeTruthy();
    }
    for (const panel of queryPanels()) {
      const name = panel.title ?? `#${panel.id}`;
      expect(panel.title, `panel #${panel.id}`).toBeTruthy();
      expect(panel.datasource, name).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(panel.targets?.length, name).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `${name}: refIds`).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(target.expr?.trim(), `${name} ${target.refId}`).toBeTruthy();
        if (target.datasource) expect(target.datasource.uid, name).toBe('${DS_PROMETHEUS}');
      }
    }
  });

  it('has unique panel ids', () => {
    const ids = allPanels().map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const check = (group: Panel[], where: string) => {
      for (const { title, gridPos: g } of group) {
        const name = `${where}: ${title}`;
        expect(Number.isInteger(g.x) && Number.isInteger(g.y), name).toBe(true);
        expect(g.x, name).toBeGreaterThanOrEqual(0);
        expect(g.y, name).toBeGreaterThanOrEqual(0);
        expect(g.w, name).toBeGreaterThan(0);
        expect(g.h, name).toBeGreaterThan(0);
        expect(g.x + g.w, name).toBeLessThanOrEqual(24);
      }
      const overlaps: string[] = [];
      group.forEach((a, i) =>
        group.slice(i + 1).forEach((b) => {
          const [p, q] = [a.gridPos, b.gridPos];
          if (p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h) {
            overlaps.push(`${a.title} / ${b.title}`);
          }
        }),
      );
      expect(overlaps, where).toEqual([]);
    };
    // Children of a collapsed row sit at the positions they take when it opens.
    check(dashboard.panels, 'dashboard');
    for (const row of dashboard.panels.filter((p) => p.type === 'row' && p.collapsed)) {
      check(row.panels ?? [], row.title ?? `row #${row.id}`);
    }
  });

  it('queries only metrics defined in the source tree, filtered by $job and $instance', () => {
    expect(defined.size).toBeGreaterThan(20);
    const unknown: string[] = [];
    const unfiltered: string[] = [];
    const misused: string[] = [];
    for (const { panel, expr } of panelExprs()) {
      for (const { series, family } of familiesIn(expr)) {
        const type = known.get(family);
        if (!type) unknown.push(`${panel}: ${series}`);
        // A histogram has no series under its own name; only histograms have _bucket.
        else if (type === 'histogram' && series === family) misused.push(`${panel}: ${series}`);
        else if (type !== 'histogram' && series !== family) misused.push(`${panel}: ${series}`);
      }
      for (const [selector, series, labels = ''] of expr.matchAll(
        /(nanobill_[a-z0-9_]+)(\{[^}]*\})?/g,
      )) {
        if (!labels.includes('job=~"$job"') || !labels.includes('instance=~"$instance"')) {
          unfiltered.push(`${panel}: ${series} (${selector})`);
        }
      }
    }
    for (const variable of dashboard.templating.list) {
      for (const { series, family } of familiesIn(variableQuery(variable))) {
        if (!known.has(family)) unknown.push(`$${variable.name}: ${series}`);
      }
    }
    expect(unknown, 'metrics not defined in packages/, services/ or cli/').toEqual([]);
    expect(misused, 'histogram suffixes on the wrong metric type').toEqual([]);
    expect(unfiltered, 'selectors without the $job/$instance filter').toEqual([]);
  });

  it('shows every metric defined in services/*/src (or says why not)', () => {
    const used = new Set(
      panelExprs().flatMap(({ expr }) => familiesIn(expr).map(({ family }) => family)),
    );
    const serviceMetrics = [...defined]
      .filter(([, { file }]) => /^services\/[^/]+\/src\//.test(file))
      .map(([name]) => name);
    expect(serviceMetrics.length).toBeGreaterThan(20);
    const missing = serviceMetrics.filter((name) => !used.has(name) && !NOT_ON_DASHBOARD[name]);
    expect(missing, 'service metrics without a panel').toEqual([]);
    // Exceptions must stay true: defined, and really not on the dashboard.
    for (const name of Object.keys(NOT_ON_DASHBOARD)) {
      expect(serviceMetrics, name).toContain(name);
      expect(used.has(name), `${name} is listed as an exception but has a panel`).toBe(false);
    }
  });

  it('uses default process metrics that prom-client really registers with the nanobill_ prefix', async () => {
    const registry = createMetricsRegistry();
    const registered = new Map(
      (await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]),
    );
    for (const [name, type] of Object.entries(PROCESS_METRICS)) {
      expect(registered.get(name), name).toBe(type);
    }
  });
});
