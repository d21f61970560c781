// @ts-check
/* global document, window */
// Settings: the spending limit, disabled providers and alert webhook, and the webhook's signing
// secret (shown once, never stored by the page).

import { ApiError, SessionEnded, api, describeError } from './api.js';
import { clearFieldError, el, fieldError } from './dom.js';
import { usd } from './format.js';
import { nanoToUsd } from './money.js';
import { controlForField, problemText, settingsBody } from './settings-form.js';
import { state } from './state.js';
import { formatUtc } from './usage.js';

/** @type {Record<import('./settings-form.js').SettingsControl, [HTMLElement, HTMLElement]>} */
const CONTROLS = {
  limit: [el.limit, el.limitError],
  providers: [el.providersFieldset, el.providersError],
  webhook: [el.webhook, el.webhookError],
};

/** @param {string[]} disabled */
export function renderProviderCheckboxes(disabled) {
  const names = [...state.providers];
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

/** @param {any} spend the spend answer: the settings as they are */
export function fillSettings(spend) {
  state.settingsDirty = false;
  const limit = spend.limitNanoUsd;
  el.limit.value = limit === null || limit === undefined ? '' : usd(limit).replace('$', '');
  el.webhook.value = typeof spend.alertWebhookUrl === 'string' ? spend.alertWebhookUrl : '';
  if (Array.isArray(spend.providers)) state.providers = spend.providers;
  renderProviderCheckboxes(Array.isArray(spend.disabledProviders) ? spend.disabledProviders : []);
}

export function clearFieldErrors() {
  for (const [control, message] of Object.values(CONTROLS)) clearFieldError(control, message);
}

/** The form emptied (signed out). */
export function resetSettings() {
  el.settingsMessage.textContent = '';
  el.settingsMessage.className = 'message';
  showSecret(null);
  clearFieldErrors();
  el.limit.value = '';
  el.webhook.value = '';
  renderProviderCheckboxes([]);
  state.settingsDirty = false;
}

/** The form's values → the PUT body, or the fields' problems. */
function readSettings() {
  const checked = el.providers.querySelectorAll('input[type="checkbox"]:checked');
  return settingsBody({
    limitText: el.limit.value,
    disabledProviders: [...checked].map((input) => /** @type {HTMLInputElement} */ (input).value),
    webhookText: el.webhook.value,
  });
}

/**
 * Saves the settings; `onSaved` follows a successful save (the status changes within seconds).
 *
 * @param {SubmitEvent} event
 * @param {() => void} onSaved
 */
export async function saveSettings(event, onSaved) {
  event.preventDefault();
  const forSession = state.session;
  if (!forSession) return;
  clearFieldErrors();
  el.settingsMessage.className = 'message';
  el.settingsMessage.textContent = '';
  const { body, problems } = readSettings();
  const [first] = problems;
  if (first !== undefined) {
    for (const [control, text] of problems) fieldError(...CONTROLS[control], text);
    el.settingsMessage.className = 'message error';
    el.settingsMessage.textContent = 'Not saved: fix the fields marked above.';
    CONTROLS[first[0]][0].focus();
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
    state.settingsDirty = false;
    el.settingsMessage.className = 'message success';
    el.settingsMessage.textContent = `Saved at ${formatUtc(new Date().toISOString())}. The status below updates within seconds.`;
    onSaved();
  } catch (error) {
    if (error instanceof SessionEnded) return;
    el.settingsMessage.className = 'message error';
    if (error instanceof ApiError && error.status === 400) {
      const field = error.body && error.body.field;
      const text = String((error.body && error.body.error) || 'Invalid value.');
      const control = controlForField(field);
      if (control) {
        const [input, message] = CONTROLS[control];
        fieldError(input, message, problemText(field, text));
        el.settingsMessage.textContent = 'Not saved: the server refused a field (see above).';
        input.focus();
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
export function showSecret(secret, previousValidUntil = null) {
  el.webhookSecret.hidden = secret === null;
  el.webhookSecretValue.textContent = secret ?? '';
  el.webhookSecretOverlap.textContent = previousValidUntil
    ? `The previous secret still verifies until ${formatUtc(previousValidUntil)}.`
    : '';
}

export async function rotateSecret() {
  const forSession = state.session;
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

/** Edits mark the form dirty and clear the edited field's problem. */
export function watchSettingsForm() {
  for (const [input, message] of [CONTROLS.limit, CONTROLS.webhook]) {
    input.addEventListener('input', () => clearFieldError(input, message));
  }
  el.settingsForm.addEventListener('input', () => {
    state.settingsDirty = true;
  });
  el.settingsForm.addEventListener('change', () => {
    state.settingsDirty = true;
  });
  el.providers.addEventListener('change', () => clearFieldError(...CONTROLS.providers));
}
