// @ts-check
/* global document */
// Alerts, newest first, each with its webhook delivery.

import { el } from './dom.js';
import { formatUtc } from './usage.js';

/** @param {any[]} alerts the alerts answer's `alerts` */
export function renderAlerts(alerts) {
  const sorted = [...alerts].sort(
    (a, b) => (Date.parse(b.createdAt) || 0) - (Date.parse(a.createdAt) || 0),
  );
  el.alertsEmpty.hidden = sorted.length > 0;
  el.alertsList.replaceChildren(...sorted.map(alertItem));
}

/** Nothing shown (signed out). */
export function resetAlerts() {
  el.alertsList.replaceChildren();
  el.alertsEmpty.hidden = true;
}

/** @param {any} alert */
function alertItem(alert) {
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
}
