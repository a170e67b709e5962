/**
 * The UI's own scheme, oklinux://app/: the built renderer served from disk with
 * the CSP and security headers on every response, through the same path
 * resolution as the browser host (nothing outside the renderer directory,
 * no directory listings).
 */
import fs from 'node:fs';
import type { Protocol } from 'electron';
import { contentSecurityPolicy, SECURITY_HEADERS } from '../host/csp';
import { mimeType, resolveStatic, STATIC_OPEN_FLAGS } from '../host/static';
import { APP_HOST, APP_SCHEME } from './channels';

/** Must run before the app is ready. */
export function registerAppScheme(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, codeCache: true } },
  ]);
}

export async function appResponse(rendererDir: string, url: string): Promise<Response> {
  const headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': contentSecurityPolicy() };
  const u = new URL(url);
  const found = u.host === APP_HOST ? await resolveStatic(rendererDir, u.pathname) : { status: 404 as const };
  const refuse = (status: 400 | 404): Response =>
    new Response(status === 400 ? 'Bad Request' : 'Not Found', { status, headers });
  if (found.status !== 200) return refuse(found.status);
  const body = await fs.promises.readFile(found.file, { flag: STATIC_OPEN_FLAGS }).catch(() => null);
  if (!body) return refuse(404);
  return new Response(new Uint8Array(body), {
    status: 200,
    headers: { ...headers, 'Content-Type': mimeType(found.file) },
  });
}

/** Serve the renderer on the app scheme (after the app is ready). */
export function serveApp(protocol: Pick<Protocol, 'handle'>, rendererDir: string): void {
  protocol.handle(APP_SCHEME, (request) => appResponse(rendererDir, request.url));
}
