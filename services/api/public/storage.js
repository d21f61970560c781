// @ts-check
/* global sessionStorage */
// The session in sessionStorage: the token lives here only, never in a URL, never in
// localStorage.

const STORAGE_ORG = 'nanobill.org';
const STORAGE_TOKEN = 'nanobill.token';

/** @returns {import('./state.js').Session | null} */
export function loadStoredSession() {
  try {
    const org = sessionStorage.getItem(STORAGE_ORG);
    const token = sessionStorage.getItem(STORAGE_TOKEN);
    return org && token ? { org, token } : null;
  } catch {
    return null;
  }
}

/** @param {import('./state.js').Session} value */
export function storeSession(value) {
  try {
    sessionStorage.setItem(STORAGE_ORG, value.org);
    sessionStorage.setItem(STORAGE_TOKEN, value.token);
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

export function clearStoredSession() {
  try {
    sessionStorage.removeItem(STORAGE_TOKEN);
    sessionStorage.removeItem(STORAGE_ORG);
  } catch {
    // nothing stored
  }
}
