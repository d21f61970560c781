// @ts-check
/* global document, HTMLElement, HTMLInputElement, HTMLButtonElement, HTMLFormElement,
   HTMLSelectElement, HTMLCanvasElement, HTMLDetailsElement, HTMLTableSectionElement,
   HTMLFieldSetElement, HTMLOListElement */
// The page's elements, found once, each checked to be of the kind the code uses.

/**
 * @template {Element} T
 * @param {string} selector
 * @param {{ new (): T, prototype: T }} kind
 * @returns {T}
 */
function $(selector, kind) {
  const element = document.querySelector(selector);
  if (!(element instanceof kind)) throw new Error(`missing element ${selector}`);
  return element;
}

/** @param {string} selector */
const box = (selector) => $(selector, HTMLElement);
/** @param {string} selector */
const input = (selector) => $(selector, HTMLInputElement);
/** @param {string} selector */
const button = (selector) => $(selector, HTMLButtonElement);

export const el = {
  signinView: box('#signin-view'),
  signinForm: $('#signin-form', HTMLFormElement),
  signinMessage: box('#signin-message'),
  signinSubmit: button('#signin-submit'),
  org: input('#org'),
  orgError: box('#org-error'),
  token: input('#token'),
  tokenError: box('#token-error'),
  sessionBar: box('#session-bar'),
  sessionOrg: box('#session-org'),
  refresh: button('#refresh'),
  signout: button('#signout'),
  dashboard: box('#dashboard'),
  dashboardTitle: box('#dashboard-title'),
  dashboardOrg: box('#dashboard-org'),
  banner: box('#status-banner'),
  error: box('#error-message'),
  spendPanel: box('#spend-panel'),
  spendMonth: box('#spend-month'),
  spendLoading: box('#spend-loading'),
  spendBody: box('#spend-body'),
  meter: box('#spend-meter'),
  meterLabel: box('#spend-meter-label'),
  meterCredits: box('#meter-credits'),
  meterPayable: box('#meter-payable'),
  meterForecast: box('#meter-forecast'),
  spendNote: box('#spend-note'),
  range: $('#range', HTMLSelectElement),
  groupBy: $('#group-by', HTMLSelectElement),
  usagePanel: box('#usage-panel'),
  usageSummary: box('#usage-summary'),
  usageEmpty: box('#usage-empty'),
  chartsUnavailable: box('#charts-unavailable'),
  usageCharts: box('#usage-charts'),
  costCanvas: $('#usage-cost-chart', HTMLCanvasElement),
  requestsCanvas: $('#usage-requests-chart', HTMLCanvasElement),
  costCaption: box('#cost-chart-caption'),
  requestsCaption: box('#requests-chart-caption'),
  usageDetails: $('#usage-details', HTMLDetailsElement),
  usageTableBody: $('#usage-table tbody', HTMLTableSectionElement),
  usageTableFoot: $('#usage-table tfoot', HTMLTableSectionElement),
  usageTableKey: box('#usage-table-key'),
  usageTableCaption: box('#usage-table-caption'),
  settingsForm: $('#settings-form', HTMLFormElement),
  limit: input('#limit-usd'),
  limitError: box('#limit-usd-error'),
  providers: box('#providers'),
  providersFieldset: $('#providers-fieldset', HTMLFieldSetElement),
  providersError: box('#providers-error'),
  webhook: input('#webhook-url'),
  webhookError: box('#webhook-url-error'),
  save: button('#save-settings'),
  rotateSecret: button('#rotate-secret'),
  settingsMessage: box('#settings-message'),
  webhookSecret: box('#webhook-secret'),
  webhookSecretValue: box('#webhook-secret-value'),
  webhookSecretOverlap: box('#webhook-secret-overlap'),
  alertsPanel: box('#alerts-panel'),
  alertsList: $('#alerts-list', HTMLOListElement),
  alertsEmpty: box('#alerts-empty'),
};

/**
 * Marks a control invalid and says why in its message element.
 *
 * @param {HTMLElement} control
 * @param {HTMLElement} messageElement
 * @param {string} message
 */
export function fieldError(control, messageElement, message) {
  messageElement.textContent = message;
  control.setAttribute('aria-invalid', 'true');
}

/**
 * Clears a control's problem.
 *
 * @param {HTMLElement} control
 * @param {HTMLElement} messageElement
 */
export function clearFieldError(control, messageElement) {
  messageElement.textContent = '';
  control.removeAttribute('aria-invalid');
}
