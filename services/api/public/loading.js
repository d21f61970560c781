// @ts-check
/* global document */
// Loading the org's answers into the page, and refreshing them: one error message per failing
// area, usage requests that supersede each other, polling after a save and in the background.

import { SessionEnded, api, describeError } from './api.js';
import { renderAlerts } from './alerts.js';
import { el } from './dom.js';
import { fillSettings } from './settings.js';
import { renderSpend } from './spend.js';
import { state } from './state.js';
import { usageWindow } from './usage.js';
import { renderUsage } from './usage-view.js';

const POLL_EVERY_MS = 2_000;
const POLL_FOR_MS = 20_000;
const BACKGROUND_EVERY_MS = 30_000;

/** @type {AbortController | null} */
let usageAbort = null;
/** @type {ReturnType<typeof setTimeout> | null} */
let pollTimer = null;

/** One message per failing area, shown together in the alert region. */
const errors = new Map();

/**
 * @param {string} area
 * @param {string | null} message `null` clears the area's message
 */
function setError(area, message) {
  if (message === null) errors.delete(area);
  else errors.set(area, message);
  el.error.textContent = [...errors.values()].join(' ');
}

export function clearErrors() {
  errors.clear();
  el.error.textContent = '';
}

export async function loadAll() {
  clearErrors();
  await Promise.all([loadSpend({ fillForm: true }), loadUsage(), loadAlerts()]);
}

export async function loadSpend({ fillForm = false } = {}) {
  await loadPanel(el.spendPanel, 'spend', 'this month’s spend', 'spend', (spend) => {
    renderSpend(spend);
    if (fillForm && !state.settingsDirty) fillSettings(spend);
  });
}

export async function loadUsage() {
  const forSession = state.session;
  if (!forSession) return;
  if (usageAbort) usageAbort.abort();
  const abort = new AbortController();
  usageAbort = abort;
  const rangeKey = el.range.value;
  const groupBy = el.groupBy.value;
  const window_ = usageWindow(rangeKey, new Date());
  const query = new URLSearchParams({
    from: window_.from.toISOString(),
    to: window_.to.toISOString(),
    granularity: window_.granularity,
    groupBy,
  });
  el.usagePanel.setAttribute('aria-busy', 'true');
  try {
    const usage = await api(forSession, 'GET', `usage?${query}`, {
      signal: abort.signal,
      // Refresh and switching back to a range ask again with the ETag: 304 when nothing landed.
      revalidate: true,
    });
    if (abort !== usageAbort) return;
    setError('usage', null);
    renderUsage(usage, { rangeKey, groupBy, window: window_ });
  } catch (error) {
    if (error instanceof SessionEnded) return;
    if (error instanceof Error && error.name === 'AbortError') return;
    setError('usage', describeError(error, 'usage'));
  } finally {
    if (abort === usageAbort) {
      usageAbort = null;
      el.usagePanel.removeAttribute('aria-busy');
    }
  }
}

export async function loadAlerts() {
  await loadPanel(el.alertsPanel, 'alerts', 'alerts', 'alerts?limit=50', (body) =>
    renderAlerts(Array.isArray(body && body.alerts) ? body.alerts : []),
  );
}

/**
 * One answer into its panel (busy while it loads); a failure is shown as the area's message,
 * unless the session ended meanwhile.
 *
 * @param {HTMLElement} panel
 * @param {string} area
 * @param {string} what the answer in words, for the message
 * @param {string} rest the path under /v1/orgs/{org}/
 * @param {(answer: any) => void} render
 */
async function loadPanel(panel, area, what, rest, render) {
  const forSession = state.session;
  if (!forSession) return;
  panel.setAttribute('aria-busy', 'true');
  try {
    const answer = await api(forSession, 'GET', rest);
    setError(area, null);
    render(answer);
  } catch (error) {
    if (!(error instanceof SessionEnded)) setError(area, describeError(error, what));
  } finally {
    panel.removeAttribute('aria-busy');
  }
}

/**
 * Spend, status and alerts refresh by themselves: every 2 s for 20 s after a save (so that a
 * status change, e.g. a lowered limit → blocked, shows without a reload), then every 30 s while
 * the tab is visible.
 */
export function schedulePolling({ fast = false } = {}) {
  stopPolling();
  const forSession = state.session;
  if (!forSession) return;
  const fastUntil = fast ? Date.now() + POLL_FOR_MS : 0;
  const delay = () => (Date.now() < fastUntil ? POLL_EVERY_MS : BACKGROUND_EVERY_MS);
  const tick = async () => {
    pollTimer = null;
    if (state.session !== forSession) return;
    if (Date.now() < fastUntil || document.visibilityState !== 'hidden') {
      await Promise.all([loadSpend(), loadAlerts()]);
    }
    if (state.session === forSession && pollTimer === null) pollTimer = setTimeout(tick, delay());
  };
  pollTimer = setTimeout(tick, delay());
}

/** No more loading for the session: polling stopped, a usage request in flight abandoned. */
export function stopLoading() {
  stopPolling();
  if (usageAbort) usageAbort.abort();
  usageAbort = null;
}

function stopPolling() {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
}
