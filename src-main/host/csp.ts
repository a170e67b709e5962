/**
 * The Content-Security-Policy and companion headers sent with the UI, by the
 * browser host (HTTP headers) and by Electron (its app:// protocol handler).
 * Scripts come only from the app itself: no inline script, no eval, no plugins,
 * no frames, no forms. Inline styles are allowed because Svelte and xterm.js set
 * them at run time. `connect` adds where the page may open connections (the
 * browser host's WebSocket).
 */
export function contentSecurityPolicy(connect: string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    ["connect-src 'self'", ...connect].join(' '),
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Sent with every response: no MIME sniffing, no referrer (the page URL carries the token), no framing. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
