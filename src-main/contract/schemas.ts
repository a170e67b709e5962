/**
 * Runtime schemas for every payload that crosses a transport (Electron IPC, the
 * WebSocket host, the CLI). Types are inferred from these, so the schema and the
 * type can never drift apart.
 */
import { z } from 'zod';

export const VmName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/,
    'a VM name is 1-63 letters, digits, "-" or "_", starting with a letter or digit',
  );
export const VmState = z.enum(['stopped', 'starting', 'running', 'stopping', 'crashed']);
export const BackendSetting = z.enum(['auto', 'bldy', 'qemu']);
export const Backend = z.enum(['bldy', 'qemu']);
export const AccelSetting = z.enum(['auto', 'kvm', 'tcg']);
/**
 * QEMU's machine for a VM: `auto` (microvm when the image's kernel has virtio-mmio built in, as okLinux's
 * does; else pc), `microvm` (virtio-mmio, no PCI: boots faster) or `pc` (virtio over PCI: any kernel, e.g. a
 * modular one whose initramfs loads virtio_pci). bldy has one machine and ignores it.
 */
export const MachineSetting = z.enum(['auto', 'microvm', 'pc']);
/**
 * A VM's network: `nat` (QEMU user-mode networking: the guest reaches the host's loopback at
 * 10.0.2.2 and, through the host, the outside), `restricted` (the same device, but no traffic leaves
 * the VM except explicit forwards), `none` (no network device).
 */
/**
 * `tap:NAME` (bldy and QEMU): a TAP device the user made (`ip tuntap add dev NAME mode tap user USER`, as
 * root); its addressing is the user's. NAME is a Linux interface name: 1-15 bytes (IFNAMSIZ) of letters,
 * digits, ".", "-", "_".
 */
export const TapName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/, 'a TAP name is 1-15 letters, digits, ".", "-" or "_" (e.g. tap0)');
export type NetMode = 'nat' | 'none' | 'restricted' | `tap:${string}`;
/** What is wrong with a network mode, naming the forms (null when it is one). */
export function netModeProblem(v: string): string | null {
  if (v === 'nat' || v === 'none' || v === 'restricted') return null;
  if (!v.startsWith('tap:')) return `unknown network "${v}": use nat, restricted, none or tap:NAME`;
  const name = v.slice(4);
  if (new TextEncoder().encode(name).length > 15)
    return `the TAP name "${name}" is longer than 15 bytes, Linux's limit for interface names (IFNAMSIZ): shorten it`;
  if (!TapName.safeParse(name).success)
    return `the TAP name "${name}" may only have letters, digits, ".", "-" and "_", not starting with "." or "-" (e.g. tap:tap0)`;
  return null;
}
export const NetMode = z.string().superRefine((v, ctx) => {
  const problem = netModeProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}) as unknown as z.ZodType<NetMode, NetMode>;
export const ShareTag = z.string().regex(/^[A-Za-z0-9_-]{1,31}$/, 'a tag is 1-31 bytes of letters, digits, "-" or "_"');
export const AbsPath = z
  .string()
  .min(1, 'a path is required')
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'must be an absolute path')
  .refine((p) => !p.includes('\0'), 'must not contain NUL bytes');
export const GuestPath = z
  .string()
  .regex(/^\/[^\s:]*$/, 'a guest path is absolute, with no ":" or spaces')
  .refine((p) => !p.split('/').includes('..'), 'a guest path must not contain ".."')
  .refine((p) => p !== '/', 'a guest path cannot be "/"');
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
export const ArtifactRole = z.enum(['kernel', 'initrd', 'rootfs']);

export const Settings = z.object({
  backend: BackendSetting,
  accel: AccelSetting,
  bldyPath: z.string().nullable(),
  githubApi: z.string().url('must be a URL such as https://api.github.com'),
  proxy: z.string().nullable(),
});
export type Settings = z.infer<typeof Settings>;

/**
 * Settings that name a program okLinux runs. Only a local caller (the desktop
 * app, the CLI) may change them, never a browser page, and only to a file that
 * passes the engine's checks (src-main/core/program-check.ts).
 */
export const PROGRAM_SETTINGS = ['bldyPath'] as const satisfies readonly (keyof Settings)[];

export const CatalogArtifact = z.object({
  role: ArtifactRole,
  url: z.string(),
  sha256: Sha256.nullable(),
  sha256Url: z.string().nullable(),
  size: z.number().int().nonnegative().nullable(),
  extract: z.string().nullable(),
  format: z.enum(['tar.gz', 'raw', 'ext4', 'ext4.gz', 'ext4.zst', 'ext4.xz']).nullable(),
});
export type CatalogArtifact = z.infer<typeof CatalogArtifact>;

export const CatalogEntry = z.object({
  ref: z.string(),
  kind: z.enum(['oklinux-release', 'bundle']),
  version: z.string(),
  arch: z.string(),
  publishedAt: z.string().nullable(),
  cmdline: z.string(),
  size: z.number().int().nonnegative().nullable(),
  installable: z.boolean(),
  /** Why it cannot be installed, for people (null when it can). */
  problem: z.string().nullable(),
  installed: z.boolean(),
  source: z.string(),
  artifacts: z.array(CatalogArtifact),
  /** Its kernel has virtio-mmio built in (okLinux's): QEMU boots it on microvm unless a VM says `--machine pc`. */
  virtioMmio: z.boolean(),
});
export type CatalogEntry = z.infer<typeof CatalogEntry>;

export const CatalogListing = z.object({
  entries: z.array(CatalogEntry),
  /** Sources that could not be read (e.g. GitHub unreachable), for people. */
  warnings: z.array(z.string()),
});
export type CatalogListing = z.infer<typeof CatalogListing>;

export const CatalogSource = z.object({
  id: z.number().int(),
  kind: z.enum(['github', 'manifest']),
  location: z.string(),
  addedAt: z.string(),
});
export type CatalogSource = z.infer<typeof CatalogSource>;

export const ImageArtifact = z.object({
  role: ArtifactRole,
  sha256: Sha256,
  size: z.number().int().nonnegative(),
});
export const Image = z.object({
  ref: z.string(),
  kind: z.enum(['oklinux-release', 'bundle', 'local']),
  version: z.string(),
  cmdline: z.string(),
  installedAt: z.string(),
  size: z.number().int().nonnegative(),
  artifacts: z.array(ImageArtifact),
});
export type Image = z.infer<typeof Image>;

export const VerifyResult = z.object({
  sha256: Sha256,
  path: z.string(),
  ok: z.boolean(),
  problem: z.string().nullable(),
});
export type VerifyResult = z.infer<typeof VerifyResult>;

export const DownloadState = z.enum(['queued', 'running', 'failed', 'done', 'cancelled']);
export const DownloadProgress = z.object({
  id: z.string(),
  url: z.string(),
  label: z.string(),
  bytes: z.number().nonnegative(),
  total: z.number().nonnegative().nullable(),
  rate: z.number().nonnegative(),
  eta: z.number().nonnegative().nullable(),
  state: DownloadState,
  error: z.string().nullable(),
});
export type DownloadProgress = z.infer<typeof DownloadProgress>;

export const Share = z.object({
  vm: VmName,
  tag: ShareTag,
  hostPath: z.string(),
  readOnly: z.boolean(),
  guestPath: z.string(),
  /** Changed while the VM runs: takes effect at its next start. */
  pending: z.boolean(),
  /**
   * A remote 9p share (its `hostPath` is then its URL, `9p://HOST:PORT/ANAME`): how its mount went in
   * the running VM. `idle`: the VM is not running (or the share applies at its next start); `mounting`:
   * booting; `mounted`; `unreachable`: the server could not be reached (`problem` says why); `failed`: the
   * server answered but the mount failed. `tls`: a `9p+quic://` share's TLS files, as realpaths (the CA;
   * the client certificate and key for mTLS); the key's contents never leave the supervisor.
   */
  remote: z
    .object({
      url: z.string(),
      state: z.enum(['idle', 'mounting', 'mounted', 'unreachable', 'failed']),
      problem: z.string().nullable(),
      tls: z.object({ ca: z.string(), cert: z.string().optional(), key: z.string().optional() }).optional(),
    })
    .optional(),
});
export type Share = z.infer<typeof Share>;
export type RemoteShareState = NonNullable<Share['remote']>['state'];

/** Whether a share's source looks like a remote share URL (`9p://…`, `9p+quic://…`) rather than a host folder. */
export function isRemoteUrl(s: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9+.-]*:\/\//.test(s);
}

export const PortProtocol = z.enum(['tcp', 'udp']);
export const PortNumber = z
  .number()
  .int('a port is a whole number')
  .min(1, 'a port is 1-65535')
  .max(65535, 'a port is 1-65535');
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
export const Ipv4 = z
  .string()
  .regex(new RegExp(`^${OCTET}(\\.${OCTET}){3}$`), 'an address is an IPv4 address such as 127.0.0.1 or 0.0.0.0');
/** A port to publish: HOST on the host (at ADDR, default 127.0.0.1) forwards to GUEST in the VM. */
export const PublishSpec = z
  .object({
    hostAddr: Ipv4.optional(),
    hostPort: PortNumber,
    guestPort: PortNumber,
    protocol: PortProtocol.optional(),
  })
  .strict();
export type PublishSpec = z.infer<typeof PublishSpec>;
export const Port = z.object({
  vm: VmName,
  hostAddr: z.string(),
  hostPort: PortNumber,
  guestPort: PortNumber,
  protocol: PortProtocol,
  /** The host address is not a loopback one: other computers on the network can reach the port. */
  exposed: z.boolean(),
  /** Changed while the VM runs: takes effect at its next start. */
  pending: z.boolean(),
});
export type Port = z.infer<typeof Port>;

export const Vm = z.object({
  name: VmName,
  image: z.string(),
  cpus: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  append: z.string(),
  backend: BackendSetting,
  accel: AccelSetting,
  net: NetMode,
  /** QEMU's machine as set for the VM (`auto` unless `create --machine`); see `MachineSetting`. */
  machine: MachineSetting,
  state: VmState,
  pid: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  exitSignal: z.string().nullable(),
  lastError: z.string().nullable(),
  rootDir: z.string().nullable(),
  /**
   * The root directory okLinux made for this VM (from its image's rootfs), or kept from an earlier VM of
   * this name, when it exists on disk: removing the VM asks whether to delete it too. Null otherwise.
   */
  managedRoot: z.string().nullable(),
  pendingRestart: z.boolean(),
  /** The ext4 image the VM boots as its root (/dev/vda) instead of a 9p root directory; null for a 9p root. */
  rootDisk: z.string().nullable(),
  /** The user's image the root disk was copied from (create --root-disk without --rw); null otherwise. */
  rootDiskSource: z.string().nullable(),
  /**
   * The guest's IPv4 address and prefix as it reported them at this boot (oklinux-init's console line, e.g.
   * `10.0.2.15/24`); null until it has, when it has no address (`--net none`, no DHCP answer on a TAP), and
   * when the VM is not running.
   */
  guestAddress: z.string().nullable(),
  /** The VM boots the user's file itself (create --root-disk FILE --rw) and changes it. */
  rootDiskInPlace: z.boolean(),
  /** The root disk's size and the bytes it takes on the host (it is sparse), when it exists. */
  rootDiskBytes: z
    .object({ size: z.number().int().nonnegative(), allocated: z.number().int().nonnegative() })
    .nullable(),
});
export type Vm = z.infer<typeof Vm>;

export const DoctorReport = z.object({
  platform: z.string(),
  arch: z.string(),
  kvm: z.object({ present: z.boolean(), readWrite: z.boolean(), path: z.string() }),
  qemu: z.object({ path: z.string().nullable(), version: z.string().nullable() }),
  vmm: z.object({
    chosen: z.enum(['bldy', 'crosvm', 'qemu']).nullable(),
    path: z.string().nullable(),
    reason: z.string(),
  }),
  dataDir: z.string(),
  schemaVersion: z.number().int(),
  freeDiskBytes: z.number().nonnegative().nullable(),
  /** The app runs with euid 0: guests can then make root-owned set-user-ID files in writable shares. */
  runningAsRoot: z.boolean(),
  /** Things to tell people: running as root, permissions tightened at startup. */
  warnings: z.array(z.string()),
  /** How VM networks work on this machine: NAT is QEMU's; bldy needs a TAP, and how to make one. */
  network: z.array(z.string()).optional(),
});
export type DoctorReport = z.infer<typeof DoctorReport>;

/** What `system:resolve` found for a name: a VM (which wins over an image of the same name) or an image. */
export const Resolved = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('vm'), vm: Vm }),
  z.object({ kind: z.literal('image'), image: Image }),
]);
export type Resolved = z.infer<typeof Resolved>;

export const DirListing = z.object({
  path: z.string(),
  parent: z.string().nullable(),
  entries: z.array(z.object({ name: z.string(), path: z.string(), dir: z.boolean() })),
});
export type DirListing = z.infer<typeof DirListing>;

export const AppEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('download:progress'), download: DownloadProgress }),
  z.object({ type: z.literal('vm:state'), vm: Vm }),
  z.object({ type: z.literal('console:data'), vm: VmName, data: z.string() }),
  z.object({ type: z.literal('catalog:changed') }),
  /** Something people should know that is not an error (e.g. a VM started while running as root). */
  z.object({ type: z.literal('warning'), vm: VmName.nullable(), message: z.string() }),
]);
export type AppEvent = z.infer<typeof AppEvent>;
