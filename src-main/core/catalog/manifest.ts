/**
 * Bundle manifests (schema 1): JSON files, local or over http(s), that list
 * kernel/initrd/rootfs bundles and VMM binaries with their digests. The format
 * is documented in resources/manifests/README.md. Artifact URLs may be relative
 * to the manifest's own URL (a local manifest's base is its file:// URL).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { OkError } from '@contract/errors';
import { normalizeMember } from '@core/extract/paths';
import { getText, httpStatusError, type HttpOptions } from './http';

export const MANIFEST_SCHEMA = 1;
/** Kernel parameters a bundle gets when its manifest gives no `cmdline`. */
export const DEFAULT_CMDLINE = 'console=ttyS0';

export type Arch = 'x86_64' | 'aarch64';

export const ROOTFS_FORMATS = ['tar.gz', 'raw', 'ext4', 'ext4.gz', 'ext4.zst', 'ext4.xz'] as const;
export type RootfsFormat = (typeof ROOTFS_FORMATS)[number];

/** One downloadable file. Exactly one of `sha256` / `sha256Url` is set. URLs are absolute. */
export interface ManifestArtifact {
  url: string;
  /** Lowercase hex. */
  sha256?: string;
  /** A sha256sum-format file that names this artifact's file name. */
  sha256Url?: string;
  size?: number;
  /** The one member to take out of a tar.gz (kernel and VMM only). */
  extract?: string;
  /**
   * rootfs only: a tarball to unpack into a 9p root directory, or an ext4 disk image (`raw` is the same as
   * `ext4`), optionally compressed, which the VM boots as its own copy.
   */
  format?: RootfsFormat;
}

/**
 * A kernel taken from an okLinux GitHub release instead of a URL: `latest` (the
 * newest verifiable release) or a release tag. Its tarball, bzImage member and
 * `.sha256` file come from the release, so the digest is still checked.
 */
export interface ManifestReleaseKernel {
  release: string;
}

export interface ManifestBundle {
  name: string;
  version: string;
  arch: Arch;
  cmdline: string;
  /**
   * The kernel has virtio-mmio built in (VIRTIO_MMIO), so QEMU boots it on the faster microvm machine. Default:
   * true for an okLinux release kernel (`{ release }`), false otherwise (e.g. a modular kernel whose initramfs
   * loads virtio_pci).
   */
  virtioMmio?: boolean;
  artifacts: {
    kernel: ManifestArtifact | ManifestReleaseKernel;
    initrd?: ManifestArtifact;
    rootfs?: ManifestArtifact;
  };
}

export interface ManifestVmm extends ManifestArtifact {
  name: string;
  version: string;
  os: 'linux' | 'darwin' | 'windows';
  arch: Arch;
}

export interface Manifest {
  schema: 1;
  /** Where it was loaded from, as given (URL or absolute path). */
  source: string;
  bundles: ManifestBundle[];
  vmm: ManifestVmm[];
}

/** Load a manifest from an http(s) URL, a file:// URL or a local path. */
export async function loadManifest(location: string, opts: HttpOptions = {}): Promise<Manifest> {
  if (/^https?:\/\//i.test(location)) {
    const { response, body } = await getText(location, { accept: 'application/json, */*;q=0.5' }, opts);
    if (!response.ok) throw httpStatusError(location, response, body);
    return parseManifest(body, location, response.url || location);
  }
  const path = location.startsWith('file:') ? fileURLToPath(location) : resolve(location);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OkError('NOT_FOUND', `manifest file not found: ${path}`);
    throw new OkError('INVALID_INPUT', `cannot read manifest ${path}: ${(e as Error).message}`);
  }
  return parseManifest(text, path, pathToFileURL(path).toString());
}

/**
 * Parse and validate manifest text. `source` names it in messages; relative
 * URLs are resolved against `base` (an http(s) or file:// URL). file:// artifact
 * URLs are allowed only when the manifest itself is a local file.
 */
export function parseManifest(text: string, source: string, base: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OkError('INVALID_INPUT', `manifest ${source} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new OkError('INVALID_INPUT', `manifest ${source} must be a JSON object`);
  }
  const schema = (json as { schema?: unknown }).schema;
  if (typeof schema === 'number' && schema !== MANIFEST_SCHEMA) {
    throw new OkError(
      'INVALID_INPUT',
      `manifest ${source} uses schema ${schema}; this version of okLinux Desktop reads schema ` +
        `${MANIFEST_SCHEMA} only. Update the app, or ask the publisher for a schema ${MANIFEST_SCHEMA} manifest.`,
    );
  }
  const baseUrl = new URL(base);
  const result = manifestSchema(baseUrl, baseUrl.protocol === 'file:').safeParse(json, {
    error: messageFor,
  });
  if (!result.success) {
    const issues = result.error.issues;
    const shown = issues.slice(0, 5).map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new OkError(
      'INVALID_INPUT',
      `manifest ${source} is invalid: ${shown.join('; ')}` +
        (issues.length > 5 ? ` (and ${issues.length - 5} more problems)` : ''),
    );
  }
  return { ...result.data, source };
}

const HEX64 = /^[0-9a-fA-F]{64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function manifestSchema(base: URL, allowFile: boolean) {
  const url = z
    .string()
    .min(1, { error: 'required: a URL' })
    .transform((s, ctx) => {
      let u: URL;
      try {
        u = new URL(s, base);
      } catch {
        ctx.issues.push({ code: 'custom', input: s, message: `not a valid URL: ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      const okScheme = u.protocol === 'https:' || u.protocol === 'http:' || (allowFile && u.protocol === 'file:');
      if (!okScheme) {
        ctx.issues.push({
          code: 'custom',
          input: s,
          message: allowFile
            ? `expected an http(s) or file URL, got ${u.protocol}`
            : `expected an http(s) URL, got ${u.protocol} (file URLs only work in local manifests)`,
        });
        return z.NEVER;
      }
      return u.toString();
    });
  const sha256 = z
    .string()
    .regex(HEX64, { error: 'expected 64 hex characters' })
    .transform((s) => s.toLowerCase());
  const size = z
    .number()
    .int({ error: 'expected a whole number of bytes' })
    .nonnegative({ error: 'expected a whole number of bytes' });
  const member = z.string().refine((s) => s !== '' && normalizeMember(s).ok, {
    error: 'expected a relative path inside the archive (no leading "/", no "..")',
  });
  // a digest is what every byte is checked against: from a manifest fetched over https, it comes over https too
  const digestUrl = url.refine((u) => base.protocol !== 'https:' || new URL(u).protocol === 'https:', {
    error:
      'a manifest served over https must give its sha256Url over https too (the digest is what downloads are checked against)',
  });
  const digest = { sha256: sha256.optional(), sha256Url: digestUrl.optional(), size: size.optional() };
  const oneDigest = (a: { sha256?: string; sha256Url?: string }, ctx: z.RefinementCtx) => {
    if (a.sha256 !== undefined && a.sha256Url !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['sha256Url'], message: 'give sha256 or sha256Url, not both' });
    } else if (a.sha256 === undefined && a.sha256Url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sha256'],
        message: 'required: give sha256 (64 hex characters) or sha256Url',
      });
    }
  };
  const arch = z.enum(['x86_64', 'aarch64']);

  const release = z.string().regex(/^(latest|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$/, {
    error: 'expected "latest" or an okLinux release tag',
  });
  const kernel = z
    .strictObject({ url: url.optional(), ...digest, extract: member.optional(), release: release.optional() })
    .superRefine((k, ctx) => {
      if (k.release !== undefined) {
        if (k.url !== undefined || k.sha256 !== undefined || k.sha256Url !== undefined || k.extract !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['release'],
            message: 'give either release or url with its digest, not both',
          });
        }
      } else if (k.url === undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'required: a URL, or release ("latest" or a tag)' });
      } else oneDigest(k, ctx);
    })
    .transform((k): ManifestArtifact | ManifestReleaseKernel => {
      if (k.release !== undefined) return { release: k.release };
      const { release: _r, url: u, ...rest } = k;
      return { url: u!, ...rest };
    });
  const initrd = z.strictObject({ url, ...digest }).superRefine(oneDigest);
  const rootfs = z.strictObject({ url, ...digest, format: z.enum(ROOTFS_FORMATS) }).superRefine(oneDigest);
  const bundle = z.strictObject({
    name: z
      .string()
      .regex(NAME, { error: 'expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit' })
      .refine((s) => s !== 'latest', { error: '"latest" is reserved' }),
    version: z.string().min(1, { error: 'required' }),
    arch,
    cmdline: z.string().default(DEFAULT_CMDLINE),
    virtioMmio: z.boolean().optional(),
    artifacts: z.strictObject({ kernel, initrd: initrd.optional(), rootfs: rootfs.optional() }),
  });
  const vmm = z
    .strictObject({
      name: z.string().min(1, { error: 'required' }),
      version: z.string().min(1, { error: 'required' }),
      os: z.enum(['linux', 'darwin', 'windows']),
      arch,
      url,
      ...digest,
      extract: member.optional(),
    })
    .superRefine(oneDigest);

  return z
    .strictObject({
      schema: z.literal(MANIFEST_SCHEMA),
      bundles: z.array(bundle).default([]),
      vmm: z.array(vmm).default([]),
    })
    .superRefine((m, ctx) => {
      const seen = new Map<string, number>();
      m.bundles.forEach((b, i) => {
        const first = seen.get(b.name);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['bundles', i, 'name'],
            message: `duplicate name ${JSON.stringify(b.name)} (also bundles[${first}])`,
          });
        } else seen.set(b.name, i);
      });
    });
}

/** Plainer messages than zod's defaults for the common cases. */
function messageFor(issue: z.core.$ZodRawIssue): string | undefined {
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
    return 'required';
  }
  if (issue.code === 'invalid_type') {
    const got = Array.isArray(issue.input) ? 'array' : issue.input === null ? 'null' : typeof issue.input;
    return `expected ${issue.expected}, got ${got}`;
  }
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (issue.code === 'invalid_value') {
    return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
  }
  return undefined;
}

function formatPath(path: PropertyKey[]): string {
  if (path.length === 0) return '(manifest)';
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}
