/** Names shared by Electron's main process and the preload (which bundles only this and the contract). */

/** The native folder picker: `{ result: string[] }`, empty when cancelled. */
export const PICK_FOLDERS_CHANNEL = 'dialog:pickFolders';

/** `<electron> [app path] --oklinux-supervise <plan.json>` runs a VM supervisor instead of the app. */
export const SUPERVISE_FLAG = '--oklinux-supervise';

/** The UI is served from this privileged scheme (not file://, so the page has a real origin). */
export const APP_SCHEME = 'oklinux';
export const APP_HOST = 'app';
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;
