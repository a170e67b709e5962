/**
 * The Electron security checklist in code: locked-down webPreferences, the
 * app's own pages recognised by scheme and host, navigation and new windows
 * denied, and only https links from the app's own pages opened in the browser.
 */
import type { Session, Shell, WebContents, WebFrameMain, WebPreferences } from 'electron';
import { contentSecurityPolicy } from '../host/csp';
import { APP_HOST, APP_SCHEME } from './channels';

export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

/** The origin of a URL as `scheme://host` (Node's URL gives "null" for custom schemes). */
export function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return null;
  }
}

export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export function isAppUrl(url: string): boolean {
  return originOf(url) === APP_ORIGIN;
}

/** An IPC sender is trusted only when it is the top frame of one of the app's own pages. */
export function isAppFrame(frame: WebFrameMain | null | undefined): boolean {
  return !!frame && frame.parent === null && isAppUrl(frame.url);
}

function isHttps(url: string): boolean {
  try {
    return new URL(url).protocol === 'https:';
  } catch {
    return false;
  }
}

/** Open `url` in the user's browser when it is https and `from` is one of the app's pages. */
export function openExternalIfSafe(shell: Pick<Shell, 'openExternal'>, url: string, from: string): boolean {
  if (!isHttps(url) || !isAppUrl(from)) return false;
  shell.openExternal(url).catch(() => undefined);
  return true;
}

/** Applied to every WebContents the app creates. */
export function hardenContents(contents: WebContents, shell: Pick<Shell, 'openExternal'>): void {
  contents.on('will-navigate', (event) => {
    if (isAppUrl(event.url)) return;
    event.preventDefault();
    openExternalIfSafe(shell, event.url, contents.getURL());
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openExternalIfSafe(shell, url, contents.getURL());
    return { action: 'deny' };
  });
}

/** Permissions the UI may use (the console's copy and paste); everything else is denied. */
const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-read', 'clipboard-sanitized-write']);

/** The session's CSP header on every response, and permissions granted only to the app's own pages. */
export function lockDownSession(session: Session): void {
  const csp = contentSecurityPolicy();
  session.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } }),
  );
  session.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(ALLOWED_PERMISSIONS.has(permission) && isAppUrl(details.requestingUrl)),
  );
  session.setPermissionCheckHandler(
    (_contents, permission, requestingOrigin) => ALLOWED_PERMISSIONS.has(permission) && isAppUrl(requestingOrigin),
  );
}
