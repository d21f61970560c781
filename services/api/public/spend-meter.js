// @ts-check
// The month's meter (no DOM): how wide its parts are and what it says, from the spend answer.
// Amounts compare as bigints; percentages are numbers for geometry only.

import { usd } from './format.js';
import { percentNumber, percentText, toNano } from './usage.js';

/**
 * @typedef {{ creditsWidth: number, payableWidth: number, forecastAt: number | null,
 *   over: boolean, valueNow: number, label: string, valueText: string }} SpendMeter
 */

/**
 * The meter's full width is the limit; with no limit, the largest of credits, gross and
 * forecast. Gross is drawn as the part credits cover, then the payable part; the forecast is a
 * marker (when above gross).
 *
 * @param {any} spend the `GET /v1/orgs/{org}/spend` answer
 * @returns {SpendMeter}
 */
export function spendMeter(spend) {
  const gross = toNano(spend.grossNanoUsd);
  const granted = toNano(spend.creditsGrantedNanoUsd);
  const applied = toNano(spend.creditsAppliedNanoUsd);
  const forecast = toNano(spend.forecastNanoUsd);
  const limit =
    spend.limitNanoUsd === null || spend.limitNanoUsd === undefined
      ? null
      : toNano(spend.limitNanoUsd);

  let scale = limit !== null && limit > 0n ? limit : granted;
  if (limit === null) {
    if (gross > scale) scale = gross;
    if (forecast > scale) scale = forecast;
  }
  const creditsPart = applied < gross ? applied : gross;
  const payablePart = gross - creditsPart;
  const creditsWidth = percentNumber(creditsPart, scale);
  const payableWidth = Math.min(100 - creditsWidth, percentNumber(payablePart, scale));
  const forecastAt = forecast > gross && scale > 0n ? percentNumber(forecast, scale) : null;

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
  return {
    creditsWidth,
    payableWidth,
    forecastAt,
    over: limit !== null && gross >= limit,
    valueNow: Math.round(percentNumber(gross, scale)),
    label,
    valueText,
  };
}
