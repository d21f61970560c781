// @ts-check
// The settings form's rules (no DOM): what the admin typed → the PUT body, or each field's
// problem in words; and the API's 400 `field` → the control it is about.

import { nanoToUsd, usdToNano } from './money.js';

const INT64_MAX = 9_223_372_036_854_775_807n;

/** @typedef {'limit' | 'providers' | 'webhook'} SettingsControl */
/**
 * @typedef {{ spendingLimitNanoUsd: string | null, disabledProviders: string[],
 *   alertWebhookUrl: string | null }} SettingsBody
 */

/**
 * The body of `PUT /v1/orgs/{org}/settings` from the form's values (an empty field clears the
 * setting), or the problems of the fields, in the form's order.
 *
 * @param {{ limitText: string, disabledProviders: string[], webhookText: string }} form
 * @returns {{ body: SettingsBody, problems: Array<[SettingsControl, string]> }}
 */
export function settingsBody(form) {
  /** @type {Array<[SettingsControl, string]>} */
  const problems = [];
  /** @type {SettingsBody} */
  const body = {
    spendingLimitNanoUsd: null,
    disabledProviders: [...form.disabledProviders],
    alertWebhookUrl: null,
  };

  const limitText = form.limitText.trim();
  if (limitText !== '') {
    try {
      const nano = usdToNano(limitText);
      if (nano.startsWith('-')) problems.push(['limit', 'The limit cannot be negative.']);
      else if (BigInt(nano) > INT64_MAX)
        problems.push(['limit', `At most ${nanoToUsd(INT64_MAX, { grouping: true })}.`]);
      else body.spendingLimitNanoUsd = nano;
    } catch (error) {
      problems.push(['limit', error instanceof Error ? error.message : 'Invalid amount.']);
    }
  }

  const webhookText = form.webhookText.trim();
  if (webhookText !== '') {
    let url = null;
    try {
      url = new URL(webhookText);
    } catch {
      url = null;
    }
    if (url === null || url.protocol !== 'https:' || url.hostname === '')
      problems.push(['webhook', 'Enter an https:// URL, e.g. https://example.com/hooks/nanobill.']);
    else body.alertWebhookUrl = webhookText;
  }
  return { body, problems };
}

/**
 * The API's 400 `field` → the form control it is about (`null`: none of them).
 *
 * @param {unknown} field
 * @returns {SettingsControl | null}
 */
export function controlForField(field) {
  const name = String(field ?? '');
  if (name.startsWith('spendingLimitNanoUsd')) return 'limit';
  if (name.startsWith('disabledProviders')) return 'providers';
  if (name.startsWith('alertWebhookUrl')) return 'webhook';
  return null;
}

/**
 * The API's "<field>: <problem>" shown next to the field as "<problem>".
 *
 * @param {unknown} field
 * @param {string} text
 */
export function problemText(field, text) {
  return field && text.startsWith(`${field}: `) ? text.slice(String(field).length + 2) : text;
}
