/* global document, window, sessionStorage, getComputedStyle */
// nanobill dashboard for org admins (docs/contract.md §8). Plain ES module, no build step, no
// inline handlers (CSP `script-src 'self'`), same-origin requests only. Chart.js comes from the
// classic script /assets/vendor/chart.umd.js as `window.Chart`. Every text shown is set through
// textContent; money is converted exactly by money.js.

import { nanoToUsd, nanoToUsdNumber, sumNano, usdToNano } from './money.js';
import {
  bucketLabel,
  formatUtc,
  percentNumber,
  percentText,
  prepareUsage,
  toNano,
  usageWindow,
} from './usage.js';

/** The configured providers, as the spend answer lists them (none until it has come). */
let providers = [];
const INT64_MAX = 9_223_372_036_854_775_807n;
const POLL_EVERY_MS = 2_000;
const POLL_FOR_MS = 20_000;
const BACKGROUND_EVERY_MS = 30_000;
const STORAGE_ORG = 'nanobill.org';
const STORAGE_TOKEN = 'nanobill.token';
const DIMENSION_NAMES = { member: 'member', provider: 'provider', model: 'model', task: 'task' };
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

const $ = (selector) => {
  const element = document.querySelector(selector);
  if (element === null) throw new Error(`missing element ${selector}`);
  return element;
};

const el = {
  signinView: $('#signin-view'),
  signinForm: $('#signin-form'),
  signinMessage: $('#signin-message'),
  signinSubmit: $('#signin-submit'),
  org: $('#org'),
  orgError: $('#org-error'),
  token: $('#token'),
  tokenError: $('#token-error'),
  sessionBar: $('#session-bar'),
  sessionOrg: $('#session-org'),
  refresh: $('#refresh'),
  signout: $('#signout'),
  dashboard: $('#dashboard'),
  dashboardTitle: $('#dashboard-title'),
  dashboardOrg: $('#dashboard-org'),
  banner: $('#status-banner'),
  error: $('#error-message'),
  spendPanel: $('#spend-panel'),
  spendMonth: $('#spend-month'),
  spendLoading: $('#spend-loading'),
  spendBody: $('#spend-body'),
  meter: $('#spend-meter'),
  meterLabel: $('#spend-meter-label'),
  meterCredits: $('#meter-credits'),
  meterPayable: $('#meter-payable'),
  meterForecast: $('#meter-forecast'),
  spendNote: $('#spend-note'),
  range: $('#range'),
  groupBy: $('#group-by'),
  usagePanel: $('#usage-panel'),
  usageSummary: $('#usage-summary'),
  usageEmpty: $('#usage-empty'),
  chartsUnavailable: $('#charts-unavailable'),
  usageCharts: $('#usage-charts'),
  costCanvas: $('#usage-cost-chart'),
  requestsCanvas: $('#usage-requests-chart'),
  costCaption: $('#cost-chart-caption'),
  requestsCaption: $('#requests-chart-caption'),
  usageDetails: $('#usage-details'),
  usageTable: $('#usage-table'),
  usageTableKey: $('#usage-table-key'),
  usageTableCaption: $('#usage-table-caption'),
  settingsForm: $('#settings-form'),
  limit: $('#limit-usd'),
  limitError: $('#limit-usd-error'),
  providers: $('#providers'),
  providersFieldset: $('#providers-fieldset'),
  providersError: $('#providers-error'),
  webhook: $('#webhook-url'),
  webhookError: $('#webhook-url-error'),
  save: $('#save-settings'),
  rotateSecret: $('#rotate-secret'),
  settingsMessage: $('#settings-message'),
  webhookSecret: $('#webhook-secret'),
  webhookSecretValue: $('#webhook-secret-value'),
  webhookSecretOverlap: $('#webhook-secret-overlap'),
  alertsPanel: $('#alerts-panel'),
  alertsList: $('#alerts-list'),
  alertsEmpty: $('#alerts-empty'),
};

/**
 * The signed-in session. A new object per sign-in: answers that arrive for an older one are
 * dropped, so nothing of a signed-out org is ever drawn.
 * @type {{ org: string, token: string } | null}
 */
let session = null;
/** @type {{ cost: any, requests: any }} */
const charts = { cost: null, requests: null };
/** @type {AbortController | null} */
let usageAbort = null;
/** @type {ReturnType<typeof setTimeout> | null} */
let pollTimer = null;
let bannerSignature = '';
/** The settings form was edited since it was filled: a refresh must not overwrite the edits. */
let settingsDirty = false;

// ---------------------------------------------------------------------------------------------
// Session storage (the token lives here only: never in a URL, never in localStorage)

function loadStoredSession() {
  try {
    const org = sessionStorage.getItem(STORAGE_ORG);
    const token = sessionStorage.getItem(STORAGE_TOKEN);
    return org && token ? { org, token } : null;
  } catch {
    return null;
  }
}

function storeSession(value) {
  try {
    sessionStorage.setItem(STORAGE_ORG, value.org);
    sessionStorage.setItem(STORAGE_TOKEN, value.token);
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

function clearStoredSession() {
  try {
    sessionStorage.removeItem(STORAGE_TOKEN);
    sessionStorage.removeItem(STORAGE_ORG);
  } catch {
    // nothing stored
  }
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {any} body
   * @param {string | null} retryAfter
   */
  constructor(status, body, retryAfter = null) {
    super(body && typeof body.error === 'string' ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/** Thrown when the session ended (sign-out, 401) while a request was in flight: ignore it. */
class SessionEnded extends Error {}

function orgPath(org, rest) {
  return `/v1/orgs/${encodeURIComponent(org)}/${rest}`;
}

/**
 * @param {{ org: string, token: string }} forSession
 * @param {string} method
 * @param {string} rest path under /v1/orgs/{org}/
 * @param {{ body?: unknown, signal?: AbortSignal }} [options]
 */
async function api(forSession, method, rest, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', Authorization: `Bearer ${forSession.token}` };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(orgPath(forSession.org, rest), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof Error && error.name === 'AbortError') throw error;
    throw new ApiError(0, null);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (forSession !== session) throw new SessionEnded();
  if (response.status === 401) {
    endSession(
      'Signed out: the token is missing, unknown or expired (401). Sign in again with a valid token.',
    );
    throw new SessionEnded();
  }
  if (response.status === 404 && rest !== 'settings') {
    endSession(`This token does not give access to the org “${forSession.org}” (404).`);
    throw new SessionEnded();
  }
  if (!response.ok) throw new ApiError(response.status, body, response.headers.get('Retry-After'));
  return body;
}

function describeError(error, what) {
  if (error instanceof ApiError) {
    if (error.status === 0)
      return `Could not reach the server to load ${what}. Check the connection and try Refresh.`;
    if (error.status === 429) {
      const wait =
        error.retryAfter && /^\d+$/.test(error.retryAfter)
          ? ` in ${error.retryAfter} s`
          : ' shortly';
      return `Too many requests while loading ${what} (429). Try again${wait}.`;
    }
    if (error.status >= 500)
      return `The server failed to load ${what} (${error.status}). Try Refresh.`;
    return `Could not load ${what}: ${error.message} (${error.status}).`;
  }
  return `Could not load ${what}: ${error instanceof Error ? error.message : String(error)}.`;
}

/** One message per failing area, shown together in the alert region. */
const errors = new Map();

function setError(area, message) {
  if (message === null) errors.delete(area);
  else errors.set(area, message);
  el.error.textContent = [...errors.values()].join(' ');
}

function clearErrors() {
  errors.clear();
  el.error.textContent = '';
}

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

function showSignIn(message = '') {
  el.dashboard.hidden = true;
  el.sessionBar.hidden = true;
  el.signinView.hidden = false;
  el.signinMessage.textContent = message;
  document.title = 'Sign in · nanobill';
}

function showDashboard() {
  el.signinView.hidden = true;
  el.signinMessage.textContent = '';
  el.sessionBar.hidden = false;
  el.dashboard.hidden = false;
  el.sessionOrg.textContent = session ? session.org : '';
  el.dashboardOrg.textContent = session ? session.org : '';
  document.title = `${session ? session.org : ''} · nanobill`;
}

/** Forget the token and everything shown for the org; back to the sign-in form. */
function endSession(message = '') {
  const wasOrg = session ? session.org : el.org.value;
  session = null;
  clearStoredSession();
  stopPolling();
  if (usageAbort) usageAbort.abort();
  usageAbort = null;
  destroyCharts();
  resetDashboard();
  el.token.value = '';
  el.org.value = wasOrg;
  el.signinSubmit.disabled = false;
  showSignIn(message);
  (el.org.value ? el.token : el.org).focus();
}

function resetDashboard() {
  clearErrors();
  renderBanner(null);
  el.spendLoading.hidden = false;
  el.spendBody.hidden = true;
  el.spendMonth.textContent = '';
  el.usageSummary.textContent = '';
  el.usageEmpty.hidden = true;
  el.usageTable.tBodies[0].replaceChildren();
  el.usageTable.tFoot.replaceChildren();
  el.alertsList.replaceChildren();
  el.alertsEmpty.hidden = true;
  el.settingsMessage.textContent = '';
  el.settingsMessage.className = 'message';
  showSecret(null);
  clearFieldErrors();
  el.limit.value = '';
  el.webhook.value = '';
  renderProviderCheckboxes([]);
  settingsDirty = false;
}

async function onSignIn(event) {
  event.preventDefault();
  el.orgError.textContent = '';
  el.tokenError.textContent = '';
  el.org.removeAttribute('aria-invalid');
  el.token.removeAttribute('aria-invalid');
  const org = el.org.value.trim();
  const token = el.token.value.trim();
  if (org === '') {
    fieldError(el.org, el.orgError, 'Enter the organization name.');
    el.org.focus();
    return;
  }
  if (token === '') {
    fieldError(el.token, el.tokenError, 'Enter an API token.');
    el.token.focus();
    return;
  }
  el.signinMessage.textContent = '';
  el.signinSubmit.disabled = true;
  el.signinSubmit.textContent = 'Signing in…';
  const candidate = { org, token };
  session = candidate;
  try {
    // The spend answer proves the token and the org before the dashboard opens.
    const spend = await api(candidate, 'GET', 'spend');
    storeSession(candidate);
    el.token.value = '';
    showDashboard();
    renderSpend(spend);
    fillSettings(spend);
    el.dashboardTitle.focus();
    void loadUsage();
    void loadAlerts();
    schedulePolling();
  } catch (error) {
    if (error instanceof SessionEnded) return; // 401/404: endSession showed why
    session = null;
    el.signinMessage.textContent = describeError(error, 'the org').replace(
      'Could not load the org: ',
      'Could not sign in: ',
    );
  } finally {
    el.signinSubmit.disabled = false;
    el.signinSubmit.textContent = 'Sign in';
  }
}

function onSignOut() {
  endSession('Signed out. The token was removed from this tab.');
}

// ---------------------------------------------------------------------------------------------
// Loading

async function loadAll() {
  clearErrors();
  await Promise.all([loadSpend({ fillForm: true }), loadUsage(), loadAlerts()]);
}

async function loadSpend({ fillForm = false } = {}) {
  const forSession = session;
  if (!forSession) return;
  el.spendPanel.setAttribute('aria-busy', 'true');
  try {
    const spend = await api(forSession, 'GET', 'spend');
    setError('spend', null);
    renderSpend(spend);
    if (fillForm && !settingsDirty) fillSettings(spend);
  } catch (error) {
    if (!(error instanceof SessionEnded))
      setError('spend', describeError(error, 'this month’s spend'));
  } finally {
    el.spendPanel.removeAttribute('aria-busy');
  }
}

async function loadUsage() {
  const forSession = session;
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
    const usage = await api(forSession, 'GET', `usage?${query}`, { signal: abort.signal });
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

async function loadAlerts() {
  const forSession = session;
  if (!forSession) return;
  el.alertsPanel.setAttribute('aria-busy', 'true');
  try {
    const body = await api(forSession, 'GET', 'alerts?limit=50');
    setError('alerts', null);
    renderAlerts(Array.isArray(body && body.alerts) ? body.alerts : []);
  } catch (error) {
    if (!(error instanceof SessionEnded)) setError('alerts', describeError(error, 'alerts'));
  } finally {
    el.alertsPanel.removeAttribute('aria-busy');
  }
}

/**
 * Spend, status and alerts refresh by themselves: every 2 s for 20 s after a save (so that a
 * status change, e.g. a lowered limit → blocked, shows without a reload), then every 30 s while
 * the tab is visible.
 */
function schedulePolling({ fast = false } = {}) {
  stopPolling();
  const forSession = session;
  if (!forSession) return;
  const fastUntil = fast ? Date.now() + POLL_FOR_MS : 0;
  const delay = () => (Date.now() < fastUntil ? POLL_EVERY_MS : BACKGROUND_EVERY_MS);
  const tick = async () => {
    pollTimer = null;
    if (session !== forSession) return;
    if (Date.now() < fastUntil || document.visibilityState !== 'hidden') {
      await Promise.all([loadSpend(), loadAlerts()]);
    }
    if (session === forSession && pollTimer === null) pollTimer = setTimeout(tick, delay());
  };
  pollTimer = setTimeout(tick, delay());
}

function stopPolling() {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
}

// ---------------------------------------------------------------------------------------------
// Money helpers on top of money.js

function usd(nano) {
  try {
    return nanoToUsd(String(nano), { grouping: true });
  } catch {
    return '—';
  }
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function count(n) {
  const value = Number(n);
  return Number.isFinite(value) ? integer.format(value) : '—';
}

// ---------------------------------------------------------------------------------------------
// Status banner

function renderBanner(status) {
  const level =
    status && (status.status === 'warning' || status.status === 'blocked') ? status.status : null;
  const signature = level
    ? JSON.stringify([level, status.reason, status.basis, status.spendNanoUsd])
    : '';
  if (signature === bannerSignature) return;
  bannerSignature = signature;
  const banner = el.banner;
  if (!level) {
    banner.hidden = true;
    banner.replaceChildren();
    banner.removeAttribute('role');
    banner.className = 'banner';
    delete banner.dataset.status;
    return;
  }
  banner.className = `banner ${level}`;
  banner.dataset.status = level;
  banner.setAttribute('role', level === 'blocked' ? 'alert' : 'status');
  const title = document.createElement('p');
  title.className = 'banner-title';
  title.textContent =
    level === 'blocked'
      ? 'Blocked: requests billed to this org are refused'
      : 'Warning: spend is close to the limit';
  const reason = document.createElement('p');
  reason.className = 'banner-reason';
  reason.textContent = String(status.reason ?? '');
  const detail = document.createElement('p');
  const basis = {
    spending_limit: 'the spending limit',
    credits: 'the month’s credits',
    none: 'nothing',
  }[status.basis];
  detail.textContent = `Month-to-date spend including estimates: ${usd(status.spendNanoUsd)}${
    basis ? `, measured against ${basis}` : ''
  }. As of ${formatUtc(status.updatedAt)}.`;
  banner.replaceChildren(title, reason, detail);
  banner.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// This month

function renderSpend(spend) {
  renderBanner(spend.status);
  el.spendLoading.hidden = true;
  el.spendBody.hidden = false;
  el.spendMonth.textContent = `(${spend.month}, UTC)`;

  const gross = toNano(spend.grossNanoUsd);
  const granted = toNano(spend.creditsGrantedNanoUsd);
  const applied = toNano(spend.creditsAppliedNanoUsd);
  const forecast = toNano(spend.forecastNanoUsd);
  const limit =
    spend.limitNanoUsd === null || spend.limitNanoUsd === undefined
      ? null
      : toNano(spend.limitNanoUsd);

  const field = (name, text) => {
    const dd = el.spendBody.querySelector(`[data-field="${name}"]`);
    if (dd) dd.textContent = text;
  };
  field('gross', usd(spend.grossNanoUsd));
  field('limit', limit === null ? 'No limit' : usd(spend.limitNanoUsd));
  field('creditsGranted', usd(spend.creditsGrantedNanoUsd));
  field('creditsApplied', usd(spend.creditsAppliedNanoUsd));
  field('payable', usd(spend.payableNanoUsd));
  field('forecast', usd(spend.forecastNanoUsd));
  field('plan', String(spend.plan ?? '—'));
  const status = spend.status;
  field(
    'status',
    status
      ? `${status.status} (as of ${formatUtc(status.updatedAt)})`
      : 'ok (no spend tracked yet)',
  );

  // The meter's full width is the limit; with no limit, the largest of credits, gross, forecast.
  let scale = limit !== null && limit > 0n ? limit : granted;
  if (limit === null) {
    if (gross > scale) scale = gross;
    if (forecast > scale) scale = forecast;
  }
  const creditsPart = applied < gross ? applied : gross;
  const payablePart = gross - creditsPart;
  const creditsWidth = percentNumber(creditsPart, scale);
  const payableWidth = Math.min(100 - creditsWidth, percentNumber(payablePart, scale));
  el.meterCredits.style.width = `${creditsWidth}%`;
  el.meterPayable.style.width = `${payableWidth}%`;
  if (forecast > gross && scale > 0n) {
    el.meterForecast.hidden = false;
    el.meterForecast.style.left = `calc(${percentNumber(forecast, scale)}% - 3px)`;
  } else {
    el.meterForecast.hidden = true;
  }
  const over = limit !== null && gross >= limit;
  el.meter.classList.toggle('over', over);
  el.meter.setAttribute('aria-valuenow', String(Math.round(percentNumber(gross, scale))));

  let label;
  let valueText;
  if (limit !== null) {
    const pct = limit > 0n ? percentText(gross, limit) : 'limit is $0.00';
    label = `Gross spend against the ${usd(spend.limitNanoUsd)} monthly limit: ${pct}`;
    valueText = `${usd(spend.grossNanoUsd)} of ${usd(spend.limitNanoUsd)} limit (${pct})`;
  } else {
    const pct = granted > 0n ? percentText(gross, granted) : '';
    label = `Gross spend against ${usd(spend.creditsGrantedNanoUsd)} of credits (no spending limit set)${pct ? `: ${pct}` : ''}`;
    valueText = `${usd(spend.grossNanoUsd)} spent, ${usd(spend.creditsGrantedNanoUsd)} credits, no limit`;
  }
  el.meterLabel.textContent = label;
  el.meter.setAttribute('aria-valuetext', valueText);
  el.spendNote.textContent = `Credits applied ${usd(spend.creditsAppliedNanoUsd)} of ${usd(
    spend.creditsGrantedNanoUsd,
  )}; payable ${usd(spend.payableNanoUsd)}; forecast for the whole month ${usd(
    spend.forecastNanoUsd,
  )}. Calendar month ${spend.month}, UTC.`;
}

// ---------------------------------------------------------------------------------------------
// Settings

function renderProviderCheckboxes(disabled) {
  const names = [...providers];
  for (const name of disabled) if (!names.includes(name)) names.push(name);
  const boxes = names.map((name) => {
    const label = document.createElement('label');
    label.className = 'checkbox';
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.name = 'disabledProviders';
    input.value = name;
    input.id = `provider-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
    input.checked = disabled.includes(name);
    input.setAttribute('aria-describedby', 'providers-hint providers-error');
    const text = document.createElement('span');
    text.textContent = name;
    label.append(input, text);
    return label;
  });
  el.providers.replaceChildren(...boxes);
}

function fillSettings(spend) {
  settingsDirty = false;
  const limit = spend.limitNanoUsd;
  el.limit.value = limit === null || limit === undefined ? '' : usd(limit).replace('$', '');
  el.webhook.value = typeof spend.alertWebhookUrl === 'string' ? spend.alertWebhookUrl : '';
  if (Array.isArray(spend.providers)) providers = spend.providers;
  renderProviderCheckboxes(Array.isArray(spend.disabledProviders) ? spend.disabledProviders : []);
}

function fieldError(input, messageElement, message) {
  messageElement.textContent = message;
  input.setAttribute('aria-invalid', 'true');
}

function clearFieldErrors() {
  for (const [input, message] of [
    [el.limit, el.limitError],
    [el.webhook, el.webhookError],
    [el.providersFieldset, el.providersError],
  ]) {
    message.textContent = '';
    input.removeAttribute('aria-invalid');
  }
}

/** The form → the PUT body, or the fields' problems. */
function readSettings() {
  /** @type {Array<[HTMLElement, HTMLElement, string]>} */
  const problems = [];
  /** @type {{ spendingLimitNanoUsd: string | null, disabledProviders: string[], alertWebhookUrl: string | null }} */
  const body = { spendingLimitNanoUsd: null, disabledProviders: [], alertWebhookUrl: null };

  const limitText = el.limit.value.trim();
  if (limitText !== '') {
    try {
      const nano = usdToNano(limitText);
      if (nano.startsWith('-'))
        problems.push([el.limit, el.limitError, 'The limit cannot be negative.']);
      else if (BigInt(nano) > INT64_MAX)
        problems.push([
          el.limit,
          el.limitError,
          `At most ${nanoToUsd(INT64_MAX, { grouping: true })}.`,
        ]);
      else body.spendingLimitNanoUsd = nano;
    } catch (error) {
      problems.push([
        el.limit,
        el.limitError,
        error instanceof Error ? error.message : 'Invalid amount.',
      ]);
    }
  }

  body.disabledProviders = [...el.providers.querySelectorAll('input[type="checkbox"]:checked')].map(
    (input) => input.value,
  );

  const webhookText = el.webhook.value.trim();
  if (webhookText !== '') {
    let url = null;
    try {
      url = new URL(webhookText);
    } catch {
      url = null;
    }
    if (url === null || url.protocol !== 'https:' || url.hostname === '')
      problems.push([
        el.webhook,
        el.webhookError,
        'Enter an https:// URL, e.g. https://example.com/hooks/nanobill.',
      ]);
    else body.alertWebhookUrl = webhookText;
  }
  return { body, problems };
}

/** The API's 400 `field` → the form control it is about. */
function controlForField(field) {
  const name = String(field ?? '');
  if (name.startsWith('spendingLimitNanoUsd')) return [el.limit, el.limitError];
  if (name.startsWith('disabledProviders')) return [el.providersFieldset, el.providersError];
  if (name.startsWith('alertWebhookUrl')) return [el.webhook, el.webhookError];
  return null;
}

async function onSaveSettings(event) {
  event.preventDefault();
  const forSession = session;
  if (!forSession) return;
  clearFieldErrors();
  el.settingsMessage.className = 'message';
  el.settingsMessage.textContent = '';
  const { body, problems } = readSettings();
  if (problems.length > 0) {
    for (const [input, message, text] of problems) fieldError(input, message, text);
    el.settingsMessage.className = 'message error';
    el.settingsMessage.textContent = 'Not saved: fix the fields marked above.';
    problems[0][0].focus();
    return;
  }
  el.save.disabled = true;
  el.save.textContent = 'Saving…';
  el.settingsMessage.textContent = 'Saving…';
  el.settingsForm.setAttribute('aria-busy', 'true');
  try {
    const saved = await api(forSession, 'PUT', 'settings', { body });
    // A first webhook URL comes with the org's signing secret, in this answer only.
    if (saved && typeof saved.webhookSecret === 'string') showSecret(saved.webhookSecret, null);
    // Show the limit the way it was stored (exact, normalized).
    el.limit.value =
      body.spendingLimitNanoUsd === null
        ? ''
        : nanoToUsd(body.spendingLimitNanoUsd).replace('$', '');
    settingsDirty = false;
    el.settingsMessage.className = 'message success';
    el.settingsMessage.textContent = `Saved at ${formatUtc(new Date().toISOString())}. The status below updates within seconds.`;
    schedulePolling({ fast: true });
    void loadSpend();
  } catch (error) {
    if (error instanceof SessionEnded) return;
    el.settingsMessage.className = 'message error';
    if (error instanceof ApiError && error.status === 400) {
      const field = error.body && error.body.field;
      const text = String((error.body && error.body.error) || 'Invalid value.');
      const target = controlForField(field);
      const shown =
        field && text.startsWith(`${field}: `) ? text.slice(String(field).length + 2) : text;
      if (target) {
        fieldError(target[0], target[1], shown);
        el.settingsMessage.textContent = 'Not saved: the server refused a field (see above).';
        target[0].focus();
      } else {
        el.settingsMessage.textContent = `Not saved: ${text}`;
      }
    } else {
      el.settingsMessage.textContent = `Not saved. ${describeError(error, 'settings').replace('Could not load settings: ', '')}`;
    }
  } finally {
    el.save.disabled = false;
    el.save.textContent = 'Save settings';
    el.settingsForm.removeAttribute('aria-busy');
  }
}

/**
 * The signing secret, shown once (never stored by the page); `null` hides it.
 * @param {string | null} secret
 * @param {string | null} [previousValidUntil]
 */
function showSecret(secret, previousValidUntil = null) {
  el.webhookSecret.hidden = secret === null;
  el.webhookSecretValue.textContent = secret ?? '';
  el.webhookSecretOverlap.textContent = previousValidUntil
    ? `The previous secret still verifies until ${formatUtc(previousValidUntil)}.`
    : '';
}

async function onRotateSecret() {
  const forSession = session;
  if (!forSession) return;
  if (!window.confirm('Make a new signing secret? The current one stops verifying in 24 hours.'))
    return;
  el.rotateSecret.disabled = true;
  el.settingsMessage.className = 'message';
  el.settingsMessage.textContent = 'Making a new signing secret…';
  try {
    const rotated = await api(forSession, 'POST', 'webhook-secret', { body: {} });
    el.settingsMessage.textContent = '';
    showSecret(String(rotated.secret), rotated.previousValidUntil);
  } catch (error) {
    if (error instanceof SessionEnded) return;
    el.settingsMessage.className = 'message error';
    el.settingsMessage.textContent = describeError(error, 'a new signing secret');
  } finally {
    el.rotateSecret.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Usage

function renderUsage(usage, { rangeKey, groupBy, window: window_ }) {
  const prepared = prepareUsage(usage, window_);
  const dimension = DIMENSION_NAMES[groupBy] || groupBy;
  const rangeName = RANGE_NAMES[rangeKey] || rangeKey;
  const per = prepared.granularity;
  const totals = usage.totals || {};
  const hasData = prepared.rows.some((row) => row.totalRequests > 0 || row.totalCost > 0n);

  el.usageSummary.textContent = `${rangeName[0].toUpperCase()}${rangeName.slice(1)} (${formatUtc(
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

function renderUsageTable(prepared, dimension, totals) {
  el.usageTableKey.textContent = dimension[0].toUpperCase() + dimension.slice(1);
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
  el.usageTable.tBodies[0].replaceChildren(...rows);
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
  el.usageTable.tFoot.replaceChildren(foot);
}

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

/** A chart tick (a float chosen by Chart.js) as exact-looking USD text via the nano path. */
function usdTick(value) {
  const number = Number(value);
  if (!Number.isFinite(number)) return '';
  return nanoToUsd(BigInt(Math.round(number * 1e9)), { grouping: true });
}

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
  const colour = (row, i) => (row.other ? OTHER_COLOUR : PALETTE[i % PALETTE.length]);
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
        filter: (item) => item.raw !== 0 && item.raw !== null,
        callbacks: {},
      },
    },
  });

  const costOptions = common('Cost (USD)', usdTick);
  costOptions.plugins.tooltip.callbacks = {
    label: (ctx) => {
      const row = prepared.shown[ctx.datasetIndex];
      return row ? `${row.label}: ${usd(row.cost[ctx.dataIndex])}` : '';
    },
    footer: (items) => (items[0] ? `Total: ${usd(prepared.bucketTotals[items[0].dataIndex])}` : ''),
  };
  charts.cost = new Chart(el.costCanvas, {
    type: 'bar',
    data: {
      labels,
      datasets: prepared.shown.map((row, i) => ({
        label: row.label,
        data: row.cost.map((nano) => nanoToUsdNumber(nano)),
        backgroundColor: colour(row, i),
        borderWidth: 0,
        stack: 'cost',
      })),
    },
    options: costOptions,
  });

  const requestOptions = common('Requests', (value) => count(value), 0);
  requestOptions.plugins.tooltip.callbacks = {
    label: (ctx) => {
      const row = prepared.shown[ctx.datasetIndex];
      return row ? `${row.label}: ${count(row.requests[ctx.dataIndex])} requests` : '';
    },
    footer: (items) =>
      items[0]
        ? `Total: ${count(prepared.shown.reduce((sum, row) => sum + row.requests[items[0].dataIndex], 0))} requests`
        : '',
  };
  charts.requests = new Chart(el.requestsCanvas, {
    type: 'bar',
    data: {
      labels,
      datasets: prepared.shown.map((row, i) => ({
        label: row.label,
        data: row.requests,
        backgroundColor: colour(row, i),
        borderWidth: 0,
        stack: 'requests',
      })),
    },
    options: requestOptions,
  });
}

// ---------------------------------------------------------------------------------------------
// Alerts

function renderAlerts(alerts) {
  const sorted = [...alerts].sort(
    (a, b) => (Date.parse(b.createdAt) || 0) - (Date.parse(a.createdAt) || 0),
  );
  el.alertsEmpty.hidden = sorted.length > 0;
  el.alertsList.replaceChildren(
    ...sorted.map((alert) => {
      const li = document.createElement('li');
      li.className = 'alert-item';
      if (alert.alertId) li.dataset.alertId = String(alert.alertId);

      const head = document.createElement('div');
      head.className = 'alert-head';
      const severity = ['info', 'warning', 'critical'].includes(alert.severity)
        ? alert.severity
        : 'info';
      const badge = document.createElement('span');
      badge.className = `badge ${severity}`;
      badge.textContent = String(alert.severity ?? 'info');
      const type = document.createElement('span');
      type.className = 'alert-type';
      type.textContent = String(alert.type ?? '').replaceAll('_', ' ');
      const time = document.createElement('time');
      time.className = 'alert-time';
      time.dateTime = String(alert.createdAt ?? '');
      time.textContent = formatUtc(alert.createdAt);
      head.append(badge, type, time);

      const message = document.createElement('p');
      message.className = 'alert-message';
      message.textContent = String(alert.message ?? '');

      const delivery = document.createElement('p');
      delivery.className = 'alert-delivery';
      const d = alert.delivery;
      if (!d) {
        delivery.textContent = 'Webhook: no delivery recorded.';
      } else {
        const attempts = Number(d.attempts) || 0;
        const outcome = String(d.outcome ?? 'unknown');
        if (outcome === 'abandoned' || outcome === 'failed') delivery.classList.add('failed');
        delivery.dataset.outcome = outcome;
        delivery.textContent = `Webhook: ${outcome} after ${attempts} attempt${attempts === 1 ? '' : 's'}, last ${formatUtc(
          d.lastAttemptAt,
        )}${d.lastError ? `. Last error: ${d.lastError}` : ''}.`;
      }
      li.append(head, message, delivery);
      return li;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Start

function start() {
  el.signinForm.addEventListener('submit', onSignIn);
  el.signout.addEventListener('click', onSignOut);
  el.refresh.addEventListener('click', () => void loadAll());
  el.settingsForm.addEventListener('submit', onSaveSettings);
  el.rotateSecret.addEventListener('click', () => void onRotateSecret());
  el.range.addEventListener('change', () => void loadUsage());
  el.groupBy.addEventListener('change', () => void loadUsage());
  for (const [input, message] of [
    [el.limit, el.limitError],
    [el.webhook, el.webhookError],
  ]) {
    input.addEventListener('input', () => {
      message.textContent = '';
      input.removeAttribute('aria-invalid');
    });
  }
  el.settingsForm.addEventListener('input', () => {
    settingsDirty = true;
  });
  el.settingsForm.addEventListener('change', () => {
    settingsDirty = true;
  });
  el.providers.addEventListener('change', () => {
    el.providersError.textContent = '';
    el.providersFieldset.removeAttribute('aria-invalid');
  });
  renderProviderCheckboxes([]);

  const stored = loadStoredSession();
  if (stored) {
    session = stored;
    el.org.value = stored.org;
    showDashboard();
    void loadAll();
    schedulePolling();
  } else {
    showSignIn();
  }
}

start();
