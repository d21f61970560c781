// @ts-check
/* global document */
// "This month" and the status banner: the spend answer drawn.

import { el } from './dom.js';
import { usd } from './format.js';
import { spendMeter } from './spend-meter.js';
import { formatUtc } from './usage.js';

let bannerSignature = '';

/**
 * The status banner for a warning or a blocked account; `null` (or ok) hides it. Redrawn only
 * when what it says changes, so that a screen reader announces it once.
 *
 * @param {any} status the spend answer's `status`
 */
export function renderBanner(status) {
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
  /** @type {Record<string, string>} */
  const bases = {
    spending_limit: 'the spending limit',
    credits: 'the month’s credits',
    none: 'nothing',
  };
  const basis = bases[status.basis];
  detail.textContent = `Month-to-date spend including estimates: ${usd(status.spendNanoUsd)}${
    basis ? `, measured against ${basis}` : ''
  }. As of ${formatUtc(status.updatedAt)}.`;
  banner.replaceChildren(title, reason, detail);
  banner.hidden = false;
}

/** @param {any} spend the `GET /v1/orgs/{org}/spend` answer */
export function renderSpend(spend) {
  renderBanner(spend.status);
  el.spendLoading.hidden = true;
  el.spendBody.hidden = false;
  el.spendMonth.textContent = `(${spend.month}, UTC)`;

  /**
   * @param {string} name
   * @param {string} text
   */
  const field = (name, text) => {
    const dd = el.spendBody.querySelector(`[data-field="${name}"]`);
    if (dd) dd.textContent = text;
  };
  const hasLimit = spend.limitNanoUsd !== null && spend.limitNanoUsd !== undefined;
  field('gross', usd(spend.grossNanoUsd));
  field('limit', hasLimit ? usd(spend.limitNanoUsd) : 'No limit');
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

  const meter = spendMeter(spend);
  el.meterCredits.style.width = `${meter.creditsWidth}%`;
  el.meterPayable.style.width = `${meter.payableWidth}%`;
  if (meter.forecastAt !== null) {
    el.meterForecast.hidden = false;
    el.meterForecast.style.left = `calc(${meter.forecastAt}% - 3px)`;
  } else {
    el.meterForecast.hidden = true;
  }
  el.meter.classList.toggle('over', meter.over);
  el.meter.setAttribute('aria-valuenow', String(meter.valueNow));
  el.meterLabel.textContent = meter.label;
  el.meter.setAttribute('aria-valuetext', meter.valueText);
  el.spendNote.textContent = `Credits applied ${usd(spend.creditsAppliedNanoUsd)} of ${usd(
    spend.creditsGrantedNanoUsd,
  )}; payable ${usd(spend.payableNanoUsd)}; forecast for the whole month ${usd(
    spend.forecastNanoUsd,
  )}. Calendar month ${spend.month}, UTC.`;
}
