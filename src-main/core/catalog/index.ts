/**
 * The merged catalog: okLinux GitHub releases and manifest bundles as one list
 * of `CatalogEntry`, newest okLinux release first, then bundles in manifest
 * order; and `resolveRef` to turn what a user typed into one entry.
 *
 * This folder (core/catalog/) knows what can be installed: okLinux's GitHub releases and manifests,
 * parsed, merged and resolved. It holds no state beyond the HTTP cache handed to it and knows nothing of
 * VMs or of the content store.
 */
import type { CatalogArtifact as ContractArtifact, CatalogEntry as ContractEntry } from '@contract';
import { OkError } from '@contract/errors';
import { OKLINUX_KERNEL_MEMBER, OKLINUX_REPO, type OkLinuxRelease } from './github';
import { DEFAULT_CMDLINE, type Manifest, type ManifestArtifact, type ManifestBundle } from './manifest';

export * from './github';
export * from './manifest';
export * from './sha256sum';
export { defaultDispatcher, type HttpOptions } from './http';

/**
 * One artifact. `extract` set means the download is a tar.gz and only that
 * member is used; rootfs `format` says whether to unpack it or use it as a disk.
 * Exactly one of `sha256` / `sha256Url` is set on an installable entry.
 */
export type CatalogArtifact = ContractArtifact;
/**
 * The contract's entry without `installed` (the engine knows that), plus
 * `problem`: why it is not installable, for people.
 */
export type CatalogEntry = Omit<ContractEntry, 'installed'> & { problem: string | null };

export interface CatalogInput {
  /** From `listReleases`, newest first. */
  releases?: OkLinuxRelease[];
  manifests?: Manifest[];
  /** `owner/name` the releases came from; default `sevki/okLinux`. */
  repo?: string;
  /** Default: this machine's (`x86_64` for x64, `aarch64` for arm64). */
  hostArch?: string;
}

export interface Catalog {
  entries: CatalogEntry[];
  /** Entries dropped because their ref was already taken, for the log or UI. */
  warnings: string[];
}

/** Merge releases and manifest bundles; refs are unique, the first one wins. */
export function buildCatalog(input: CatalogInput): Catalog {
  const hostArch = input.hostArch ?? nodeArch(process.arch);
  const entries: CatalogEntry[] = [];
  const warnings: string[] = [];
  const taken = new Map<string, string>();
  const add = (e: CatalogEntry) => {
    const other = taken.get(e.ref);
    if (other !== undefined) {
      warnings.push(`${e.kind} ${JSON.stringify(e.ref)} from ${e.source} ignored: ${other} has that name`);
      return;
    }
    taken.set(e.ref, e.source);
    if (e.installable && e.arch !== hostArch) {
      e.installable = false;
      e.problem = `built for ${e.arch}; this machine is ${hostArch}`;
    }
    entries.push(e);
  };
  const source = `github:${input.repo ?? OKLINUX_REPO}`;
  for (const r of input.releases ?? []) add(releaseEntry(r, source));
  const releases = entries.filter((e) => e.kind === 'oklinux-release');
  for (const m of input.manifests ?? []) for (const b of m.bundles) add(bundleEntry(b, m.source, releases));
  return { entries, warnings };
}

/**
 * The entry a user means by `ref`: an exact release tag or bundle name, or
 * `latest` for the newest installable okLinux release. `NOT_FOUND` lists close
 * candidates. The caller still checks `installable` (and shows `problem`).
 */
export function resolveRef(entries: CatalogEntry[], ref: string): CatalogEntry {
  if (ref === 'latest') {
    const releases = entries.filter((e) => e.kind === 'oklinux-release');
    const found = releases.find((e) => e.installable);
    if (found) return found;
    throw new OkError(
      'NOT_FOUND',
      releases.length === 0
        ? 'no okLinux release in the catalog; refresh the catalog (GitHub may have been unreachable)'
        : `none of the ${releases.length} okLinux releases in the catalog is installable: ` +
            (releases[0]?.problem ?? 'unknown reason'),
    );
  }
  const exact = entries.find((e) => e.ref === ref);
  if (exact) return exact;
  const close = closeRefs(
    entries.map((e) => e.ref),
    ref,
  );
  const hint =
    close.length > 0
      ? ` Did you mean: ${close.join(', ')}?`
      : entries.length > 0
        ? ` Known: latest, ${entries
            .slice(0, 5)
            .map((e) => e.ref)
            .join(', ')}${entries.length > 5 ? ', …' : ''}.`
        : ' The catalog is empty: refresh it or add a manifest.';
  throw new OkError('NOT_FOUND', `no release or bundle named ${JSON.stringify(ref)} in the catalog.${hint}`);
}

/** The file name an artifact's URL ends in (what its sha256sum file must name). */
export function artifactFileName(url: string): string {
  const last = new URL(url).pathname.split('/').pop() ?? '';
  return decodeURIComponent(last);
}

function releaseEntry(r: OkLinuxRelease, source: string): CatalogEntry {
  return {
    ref: r.tag,
    kind: 'oklinux-release',
    version: r.kernelRelease,
    arch: 'x86_64',
    publishedAt: r.publishedAt,
    cmdline: DEFAULT_CMDLINE,
    // okLinux's kernel forces VIRTIO_MMIO on
    virtioMmio: true,
    size: r.kernel.size,
    installable: r.sha256 !== null,
    problem: r.sha256 ? null : `release ${r.tag} has no ${r.kernel.name}.sha256, so it cannot be verified`,
    source,
    artifacts: [
      {
        role: 'kernel',
        url: r.kernel.url,
        sha256: null,
        sha256Url: r.sha256?.url ?? null,
        size: r.kernel.size,
        extract: OKLINUX_KERNEL_MEMBER,
        format: null,
      },
    ],
  };
}

function bundleEntry(b: ManifestBundle, source: string, releases: CatalogEntry[]): CatalogEntry {
  let problem: string | null = null;
  const artifacts: ContractArtifact[] = [];
  const k = b.artifacts.kernel;
  if ('release' in k) {
    // the kernel of an okLinux release: its tarball, member and .sha256
    const rel =
      k.release === 'latest' ? releases.find((r) => r.installable) : releases.find((r) => r.ref === k.release);
    const ka = rel?.installable ? rel.artifacts.find((a) => a.role === 'kernel') : undefined;
    if (ka) artifacts.push(ka);
    else {
      problem = rel
        ? `its kernel, okLinux release ${rel.ref}, cannot be installed: ${rel.problem ?? 'unknown reason'}`
        : `its kernel is okLinux release "${k.release}", which is not in the catalog (are the okLinux releases reachable?)`;
    }
  } else artifacts.push(artifactOf('kernel', k));
  for (const role of ['initrd', 'rootfs'] as const) {
    const a: ManifestArtifact | undefined = b.artifacts[role];
    if (a) artifacts.push(artifactOf(role, a));
  }
  const sizes = artifacts.map((a) => a.size);
  return {
    ref: b.name,
    kind: 'bundle',
    version: b.version,
    arch: b.arch,
    publishedAt: null,
    cmdline: b.cmdline,
    virtioMmio: b.virtioMmio ?? 'release' in k,
    size: sizes.every((s) => s !== null) ? sizes.reduce<number>((n, s) => n + (s ?? 0), 0) : null,
    installable: problem === null,
    problem,
    source,
    artifacts,
  };
}

function artifactOf(role: ContractArtifact['role'], a: ManifestArtifact): ContractArtifact {
  return {
    role,
    url: a.url,
    sha256: a.sha256 ?? null,
    sha256Url: a.sha256Url ?? null,
    size: a.size ?? null,
    extract: a.extract ?? null,
    format: a.format ?? null,
  };
}

function nodeArch(arch: string): string {
  return arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch;
}

/** Up to 5 refs that look like `ref`: containing it, or within a small edit distance. */
function closeRefs(refs: string[], ref: string): string[] {
  const want = ref.toLowerCase();
  const limit = Math.max(2, Math.floor(want.length / 3));
  return refs
    .map((r) => {
      const have = r.toLowerCase();
      const contains = have.includes(want) || want.includes(have);
      return { r, score: contains ? -1 : editDistance(want, have) };
    })
    .filter((c) => c.score <= limit)
    .sort((a, b) => a.score - b.score)
    .slice(0, 5)
    .map((c) => c.r);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
