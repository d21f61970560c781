// @ts-check
// The dashboard's state shared by its modules: the session and what the settings form needs.

/** @typedef {{ org: string, token: string }} Session */

export const state = {
  /**
   * The signed-in session. A new object per sign-in: answers that arrive for an older one are
   * dropped, so nothing of a signed-out org is ever drawn.
   * @type {Session | null}
   */
  session: null,
  /**
   * The configured providers, as the spend answer lists them (none until it has come).
   * @type {string[]}
   */
  providers: [],
  /** The settings form was edited since it was filled: a refresh must not overwrite the edits. */
  settingsDirty: false,
};
