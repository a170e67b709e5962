/**
 * CLI-level fixtures: a GitHub-shaped API on a real 127.0.0.1 server (the
 * releases listing with ETag/304 and the release assets under their
 * browser_download_url, on the same server), okLinux kernel tarballs built with
 * node-tar, and an OKLINUX_HOME per test.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as tar from 'tar';
import { OKLINUX_KERNEL_MEMBER } from '@core/catalog';
import { ghRelease, kernelAssetName, kernelTag } from '../catalog/fixtures';
import { runCli, type CliResult } from '../helpers/cli';
import { sha256Hex, startTestServer, strongEtag, type RouteSpec, type TestServer } from '../helpers/http';
import { tmpDir } from '../helpers/tmp';

export const RELEASES_PATH = '/repos/sevki/okLinux/releases';

export interface Sandbox {
  server: TestServer;
  home: string;
  /** Scratch space for files the test makes. */
  work: string;
  env: NodeJS.ProcessEnv;
  /** `oklinux …` with this sandbox's home and GitHub API. */
  cli(args: string[], opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** Files in the content store (`store/sha256/<hex>`). */
  stored(): string[];
  close(): Promise<void>;
}

/** A fresh OKLINUX_HOME and a test server acting as the GitHub API (with no releases yet). */
export async function sandbox(): Promise<Sandbox> {
  const server = await startTestServer();
  const t = tmpDir('oklinux-images-');
  const home = path.join(t.dir, 'home');
  const work = path.join(t.dir, 'work');
  fs.mkdirSync(work);
  const env: NodeJS.ProcessEnv = {
    OKLINUX_HOME: home,
    OKLINUX_GITHUB_API: server.origin,
    GITHUB_TOKEN: undefined,
    ...Object.fromEntries(
      ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'].map((k) => [k, undefined]),
    ),
  };
  serveReleases(server, []);
  return {
    server,
    home,
    work,
    env,
    cli: (args, opts = {}) => runCli(args, { ...opts, env: { ...env, ...opts.env } }),
    stored: () => {
      const dir = path.join(home, 'store', 'sha256');
      return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
    },
    close: async () => {
      await server.close();
      t.cleanup();
    },
  };
}

/** A gzipped tarball holding `arch/x86/boot/bzImage` = `bzImage`, made by node-tar as okLinux's CI makes it. */
export async function kernelTarball(bzImage: Buffer, work: string): Promise<Buffer> {
  const root = fs.mkdtempSync(path.join(work, 'kernel-'));
  fs.mkdirSync(path.join(root, path.dirname(OKLINUX_KERNEL_MEMBER)), { recursive: true });
  fs.writeFileSync(path.join(root, OKLINUX_KERNEL_MEMBER), bzImage);
  const out = `${root}.tar.gz`;
  await tar.c({ gzip: true, file: out, cwd: root, portable: true }, [OKLINUX_KERNEL_MEMBER]);
  return fs.readFileSync(out);
}

export interface Published {
  tag: string;
  asset: string;
  /** Path of the tarball on the server. */
  assetPath: string;
  tarball: Buffer;
  bzImageSha: string;
}

export interface ReleaseInput {
  kernelRelease: string;
  /** 40 hex. */
  commit: string;
  publishedAt: string;
  bzImage: Buffer;
  /** Digest the `.sha256` asset claims (default: the tarball's real one). */
  claimedSha256?: string;
  /** Extra behaviour of the tarball's route (slow, dropping…), per request (0 for the first). */
  route?: (index: number) => Omit<RouteSpec, 'body'>;
}

/**
 * Publish okLinux releases on `s.server`: the listing at RELEASES_PATH (strong
 * ETag, 304 on If-None-Match) and each release's tarball and `.sha256` under its
 * browser_download_url.
 */
export async function publish(s: Sandbox, releases: ReleaseInput[]): Promise<Published[]> {
  const out: Published[] = [];
  const listing: unknown[] = [];
  for (const r of releases) {
    const tarball = await kernelTarball(r.bzImage, s.work);
    const spec = { kernelRelease: r.kernelRelease, commit: r.commit, publishedAt: r.publishedAt, size: tarball.length };
    const tag = kernelTag(spec);
    const asset = kernelAssetName(spec);
    const assetPath = `/sevki/okLinux/releases/download/${tag}/${asset}`;
    const extra = r.route;
    s.server.route(assetPath, extra ? ({ index }) => ({ ...extra(index), body: tarball }) : { body: tarball });
    s.server.route(`${assetPath}.sha256`, {
      body: Buffer.from(`${r.claimedSha256 ?? sha256Hex(tarball)}  ${asset}\n`),
    });
    listing.push(ghRelease(s.server.origin, spec));
    out.push({ tag, asset, assetPath, tarball, bzImageSha: sha256Hex(r.bzImage) });
  }
  serveReleases(s.server, listing);
  return out;
}

function serveReleases(server: TestServer, listing: unknown[]): void {
  const body = Buffer.from(JSON.stringify(listing));
  const etag = strongEtag(body);
  server.route(RELEASES_PATH, ({ req }) =>
    req.headers['if-none-match'] === etag ? { status: 304, etag } : { body, etag },
  );
}

/** A 127.0.0.1 port nothing listens on (connections are refused). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** The JSON lines of a `--json` run's stdout. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
