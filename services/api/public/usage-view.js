// @ts-check
/* global document, window, getComputedStyle */
// Usage: the summary, two stacked bar charts (Chart.js, the classic script
// /assets/vendor/chart.umd.js as `window.Chart`) and the table that lists every key.

import { el } from './dom.js';
import { count, usd, usdTick } from './format.js';
import { nanoToUsdNumber, sumNano } from './money.js';
import { bucketLabel, formatUtc, prepareUsage } from './usage.js';

/** @typedef {import('./usage.js').UsageRow} UsageRow */
/** @typedef {ReturnType<typeof prepareUsage>} PreparedUsage */

/** @type {Record<string, string>} */
const DIMENSION_NAMES = { member: 'member', provider: 'provider', model: 'model', task: 'task' };
/** @type {Record<string, string>} */
const RANGE_NAMES = {
  '24h': 'last 24 hours',
  '7d': 'last 7 days',
  '30d': 'last 30 days',
  '12m': 'last 12 months',
};
/** Okabe–Ito based, distinguishable for colour-blind readers; the last one is "other". */
const PALETTE = [
  '#0072b2',
  '#d55e00',
  '#009e73',
  '#cc79a7',
  '#e69f00',
  '#56b4e9',
  '#6a3d9a',
  '#8c564b',
];
const OTHER_COLOUR = '#8a8f98';

/** @type {{ cost: any, requests: any }} */
const charts = { cost: null, requests: null };

/**
 * @param {any} usage the `GET /v1/orgs/{org}/usage` answer
 * @param {{ rangeKey: string, groupBy: string, window: { from: Date, to: Date, granularity: string } }} asked
 */
export function renderUsage(usage, { rangeKey, groupBy, window: window_ }) {
  const prepared = prepareUsage(usage, window_);
  const dimension = DIMENSION_NAMES[groupBy] || groupBy;
  const rangeName = RANGE_NAMES[rangeKey] || rangeKey;
  const per = prepared.granularity;
  const totals = usage.totals || {};
  const hasData = prepared.rows.some((row) => row.totalRequests > 0 || row.totalCost > 0n);

  el.usageSummary.textContent = `${rangeName.charAt(0).toUpperCase()}${rangeName.slice(1)} (${formatUtc(
    usage.from || window_.from.toISOString(),
  )} to ${formatUtc(usage.to || window_.to.toISOString())}): ${usd(totals.costNanoUsd ?? '0')}, ${count(
    totals.requests ?? 0,
  )} requests, ${count(totals.inputTokens ?? 0)} input and ${count(totals.outputTokens ?? 0)} output tokens.`;
  el.usageEmpty.hidden = hasData;
  el.costCaption.textContent = `Cost (USD) per ${per}, stacked by ${dimension}`;
  el.requestsCaption.textContent = `Requests per ${per}, stacked by ${dimension}`;

  renderUsageTable(prepared, dimension, totals);

  const top = prepared.shown.filter((row) => row.totalCost > 0n).slice(0, 3);
  el.costCanvas.setAttribute(
    'aria-label',
    `Stacked bar chart: cost per ${per} (UTC) by ${dimension}, ${rangeName}. Total ${usd(
      totals.costNanoUsd ?? '0',
    )}.${top.length ? ` Largest: ${top.map((row) => `${row.label} ${usd(row.totalCost)}`).join(', ')}.` : ''} The table below lists every ${dimension}.`,
  );
  el.requestsCanvas.setAttribute(
    'aria-label',
    `Stacked bar chart: requests per ${per} (UTC) by ${dimension}, ${rangeName}. Total ${count(
      totals.requests ?? 0,
    )} requests. The table below lists every ${dimension}.`,
  );
  drawCharts(prepared);
}

/** Nothing shown (signed out). */
export function resetUsage() {
  destroyCharts();
  el.usageSummary.textContent = '';
  el.usageEmpty.hidden = true;
  el.usageTableBody.replaceChildren();
  el.usageTableFoot.replaceChildren();
}

/**
 * @param {PreparedUsage} prepared
 * @param {string} dimension
 * @param {any} totals
 */
function renderUsageTable(prepared, dimension, totals) {
  el.usageTableKey.textContent = dimension.charAt(0).toUpperCase() + dimension.slice(1);
  el.usageTableCaption.textContent = `Totals in the range, by ${dimension}, largest cost first`;
  const rows = prepared.rows.map((row) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = row.label;
    tr.append(
      th,
      cell(count(row.totalRequests)),
      cell(count(row.inputTokens)),
      cell(count(row.outputTokens)),
      cell(usd(row.totalCost)),
    );
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 5;
    td.textContent = 'No usage in this range.';
    tr.append(td);
    rows.push(tr);
  }
  el.usageTableBody.replaceChildren(...rows);
  const foot = document.createElement('tr');
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = 'Total';
  foot.append(
    th,
    cell(count(totals.requests ?? 0)),
    cell(count(totals.inputTokens ?? 0)),
    cell(count(totals.outputTokens ?? 0)),
    cell(usd(totals.costNanoUsd ?? sumNano(prepared.rows.map((row) => row.totalCost)))),
  );
  el.usageTableFoot.replaceChildren(foot);
}

/** @param {string} text */
function cell(text) {
  const td = document.createElement('td');
  td.className = 'num';
  td.textContent = text;
  return td;
}

function destroyCharts() {
  for (const name of /** @type {const} */ (['cost', 'requests'])) {
    if (charts[name]) charts[name].destroy();
    charts[name] = null;
  }
}

/** @param {PreparedUsage} prepared */
function drawCharts(prepared) {
  /** @type {any} */
  const Chart = /** @type {any} */ (window).Chart;
  destroyCharts();
  if (typeof Chart !== 'function') {
    el.chartsUnavailable.hidden = false;
    el.usageCharts.hidden = true;
    el.usageDetails.open = true;
    return;
  }
  el.chartsUnavailable.hidden = true;
  el.usageCharts.hidden = false;

  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue('--fg').trim() || '#1b1f24';
  const grid = css.getPropertyValue('--grid').trim() || '#e3e6ea';
  const labels = prepared.times.map((t) => bucketLabel(t, prepared.granularity));
  /**
   * @param {UsageRow} row
   * @param {number} i
   */
  const colour = (row, i) => (row.other ? OTHER_COLOUR : PALETTE[i % PALETTE.length]);
  /**
   * @param {string} yTitle
   * @param {(value: unknown) => string} tickCallback
   * @param {number} [precision]
   * @returns {any} Chart.js options
   */
  const common = (yTitle, tickCallback, precision) => ({
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: 'index', intersect: false },
    scales: {
      x: {
        stacked: true,
        title: { display: true, text: 'Time (UTC)', color: fg },
        ticks: { color: fg, maxRotation: 0, autoSkip: true, autoSkipPadding: 8 },
        grid: { display: false },
      },
      y: {
        stacked: true,
        beginAtZero: true,
        title: { display: true, text: yTitle, color: fg },
        ticks: { color: fg, callback: tickCallback, ...(precision === 0 ? { precision: 0 } : {}) },
        grid: { color: grid },
      },
    },
    plugins: {
      legend: { position: 'bottom', labels: { color: fg, boxWidth: 12, boxHeight: 12 } },
      tooltip: {
        /** @param {any} item */
        filter: (item) => item.raw !== 0 && item.raw !== null,
        callbacks: {},
      },
    },
  });

  const costOptions = common('Cost (USD)', usdTick);
  costOptions.plugins.tooltip.callbacks = {
    /** @param {any} ctx */
    label: (ctx) => {
      const row = prepared.shown[ctx.datasetIndex];
      return row ? `${row.label}: ${usd(row.cost[ctx.dataIndex])}` : '';
    },
    /** @param {any[]} items */
    footer: (items) => (items[0] ? `Total: ${usd(prepared.bucketTotals[items[0].dataIndex])}` : ''),
  };
  /**
   * A stacked bar chart of the shown rows, one dataset a row.
   *
   * @param {HTMLCanvasElement} canvas
   * @param {'cost' | 'requests'} stack
   * @param {(row: UsageRow) => number[]} dataOf
   * @param {any} options
   */
  const barChart = (canvas, stack, dataOf, options) =>
    new Chart(canvas, {
      type: 'bar',
      data: {
        labels,
        datasets: prepared.shown.map((row, i) => ({
          label: row.label,
          data: dataOf(row),
          backgroundColor: colour(row, i),
          borderWidth: 0,
          stack,
        })),
      },
      options,
    });
  charts.cost = barChart(
    el.costCanvas,
    'cost',
    (row) => row.cost.map((nano) => nanoToUsdNumber(nano)),
    costOptions,
  );

  const requestOptions = common('Requests', (value) => count(value), 0);
  requestOptions.plugins.tooltip.callbacks = {
    /** @param {any} ctx */
    label: (ctx) => {
      const row = prepared.shown[ctx.datasetIndex];
      return row ? `${row.label}: ${count(row.requests[ctx.dataIndex])} requests` : '';
    },
    /** @param {any[]} items */
    footer: (items) => {
      const first = items[0];
      if (!first) return '';
      const total = prepared.shown.reduce(
        (sum, row) => sum + (row.requests[first.dataIndex] ?? 0),
        0,
      );
      return `Total: ${count(total)} requests`;
    },
  };
  charts.requests = barChart(el.requestsCanvas, 'requests', (row) => row.requests, requestOptions);
}
