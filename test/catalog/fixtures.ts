/** GitHub release objects shaped like the real API's, with okLinux's asset names. */

export interface ReleaseSpec {
  /** e.g. `6.6.76-08024-g4f1e2d3c5b6a` (`make kernelrelease`) */
  kernelRelease: string;
  /** 40 hex */
  commit: string;
  publishedAt: string;
  /** `YYYYMMDD` in the tag, as the current workflow writes it. */
  date?: string;
  withSha256?: boolean;
  draft?: boolean;
  size?: number;
}

let nextId = 190_000_000;

export function kernelAssetName(s: Pick<ReleaseSpec, 'kernelRelease' | 'commit'>): string {
  return `oklinux-kernel-x86_64-${s.kernelRelease}-${s.commit}.tar.gz`;
}

export function kernelTag(s: ReleaseSpec): string {
  return `kernel-${s.kernelRelease}-${s.date ? `${s.date}-` : ''}${s.commit.slice(0, 7)}`;
}

function asset(origin: string, tag: string, name: string, size: number, type: string) {
  return {
    url: `${origin}/repos/sevki/okLinux/releases/assets/${nextId++}`,
    id: nextId,
    name,
    label: '',
    content_type: type,
    state: 'uploaded',
    size,
    download_count: 3,
    created_at: '2025-03-01T00:41:12Z',
    updated_at: '2025-03-01T00:41:13Z',
    browser_download_url: `${origin}/sevki/okLinux/releases/download/${tag}/${name}`,
  };
}

export function ghRelease(origin: string, s: ReleaseSpec) {
  const tag = kernelTag(s);
  const name = kernelAssetName(s);
  const assets = [asset(origin, tag, name, s.size ?? 12_345_678, 'application/gzip')];
  if (s.withSha256 !== false) assets.push(asset(origin, tag, `${name}.sha256`, 163, 'text/plain'));
  return {
    url: `${origin}/repos/sevki/okLinux/releases/${nextId++}`,
    html_url: `https://github.com/sevki/okLinux/releases/tag/${tag}`,
    id: nextId,
    tag_name: tag,
    target_commitish: 'main',
    name: `Kernel ${tag}`,
    draft: s.draft ?? false,
    prerelease: false,
    created_at: s.publishedAt,
    published_at: s.draft ? null : s.publishedAt,
    assets,
    body: `Automated kernel build from chromeos-6.6 branch.\n\n- Kernel release: \`${s.kernelRelease}\``,
  };
}

/** The repo's other releases (the app's own, made by release-please) have no kernel. */
export function appRelease(origin: string) {
  return {
    url: `${origin}/repos/sevki/okLinux/releases/${nextId++}`,
    html_url: 'https://github.com/sevki/okLinux/releases/tag/v0.3.0',
    id: nextId,
    tag_name: 'v0.3.0',
    name: 'v0.3.0',
    draft: false,
    prerelease: false,
    published_at: '2025-02-20T10:00:00Z',
    assets: [],
  };
}

export const hex40 = (c: string) => c.repeat(40).slice(0, 40);
