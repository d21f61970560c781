// @ts-check
/* global document */
// nanobill dashboard for org admins (docs/contract.md §8). Plain ES modules, no build step, no
// inline handlers (CSP `script-src 'self'`), same-origin requests only. Every text shown is set
// through textContent; money is converted exactly by money.js. This module signs in and out and
// starts the page; each section of the page has its own module:
//   spend.js (this month, status banner), settings.js, usage-view.js, alerts.js,
//   loading.js (loading and polling), api.js, dom.js, storage.js, state.js,
//   and the pure helpers money.js, usage.js, format.js, spend-meter.js, settings-form.js.

import { SessionEnded, api, describeError, whenSessionEnds } from './api.js';
import { resetAlerts } from './alerts.js';
import { clearFieldError, el, fieldError } from './dom.js';
import {
  clearErrors,
  loadAlerts,
  loadAll,
  loadSpend,
  loadUsage,
  schedulePolling,
  stopLoading,
} from './loading.js';
import {
  fillSettings,
  renderProviderCheckboxes,
  resetSettings,
  rotateSecret,
  saveSettings,
  watchSettingsForm,
} from './settings.js';
import { renderBanner, renderSpend } from './spend.js';
import { state } from './state.js';
import { clearStoredSession, loadStoredSession, storeSession } from './storage.js';
import { resetUsage } from './usage-view.js';

function showSignIn(message = '') {
  el.dashboard.hidden = true;
  el.sessionBar.hidden = true;
  el.signinView.hidden = false;
  el.signinMessage.textContent = message;
  document.title = 'Sign in · nanobill';
}

function showDashboard() {
  const org = state.session ? state.session.org : '';
  el.signinView.hidden = true;
  el.signinMessage.textContent = '';
  el.sessionBar.hidden = false;
  el.dashboard.hidden = false;
  el.sessionOrg.textContent = org;
  el.dashboardOrg.textContent = org;
  document.title = `${org} · nanobill`;
}

/** Forget the token and everything shown for the org; back to the sign-in form. */
function endSession(message = '') {
  const wasOrg = state.session ? state.session.org : el.org.value;
  state.session = null;
  clearStoredSession();
  stopLoading();
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
  resetUsage();
  resetAlerts();
  resetSettings();
}

/** @param {SubmitEvent} event */
async function onSignIn(event) {
  event.preventDefault();
  clearFieldError(el.org, el.orgError);
  clearFieldError(el.token, el.tokenError);
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
  state.session = candidate;
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
    state.session = null;
    el.signinMessage.textContent = describeError(error, 'the org').replace(
      'Could not load the org: ',
      'Could not sign in: ',
    );
  } finally {
    el.signinSubmit.disabled = false;
    el.signinSubmit.textContent = 'Sign in';
  }
}

function start() {
  whenSessionEnds(endSession);
  el.signinForm.addEventListener('submit', (event) => void onSignIn(event));
  el.signout.addEventListener('click', () =>
    endSession('Signed out. The token was removed from this tab.'),
  );
  el.refresh.addEventListener('click', () => void loadAll());
  el.settingsForm.addEventListener(
    'submit',
    (event) =>
      void saveSettings(event, () => {
        schedulePolling({ fast: true });
        void loadSpend();
      }),
  );
  el.rotateSecret.addEventListener('click', () => void rotateSecret());
  el.range.addEventListener('change', () => void loadUsage());
  el.groupBy.addEventListener('change', () => void loadUsage());
  watchSettingsForm();
  renderProviderCheckboxes([]);

  const stored = loadStoredSession();
  if (stored) {
    state.session = stored;
    el.org.value = stored.org;
    showDashboard();
    void loadAll();
    schedulePolling();
  } else {
    showSignIn();
  }
}

start();
