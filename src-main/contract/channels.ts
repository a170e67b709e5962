/**
 * The channels of the contract: each operation's `<service>:<method>` name, its input schema (checked
 * at every transport boundary) and its output schema, and the envelope a reply travels in.
 */
import { z } from 'zod';
import * as S from './schemas';
import type { ErrorPayload } from './errors';

const none = z.object({}).strict();

const createVm = z
  .object({
    name: S.VmName,
    image: z.string().min(1, 'an image (release tag or bundle name) is required'),
    cpus: z.number().int().min(1).max(64).optional(),
    memoryMiB: z
      .number()
      .int()
      .min(64)
      .max(1024 * 1024)
      .optional(),
    append: z.string().optional(),
    backend: S.BackendSetting.optional(),
    accel: S.AccelSetting.optional(),
    /** Default `nat`; `none` when the backend is bldy (which has no user-mode networking). */
    net: S.NetMode.optional(),
    /** Ports to publish (not with net `none`). */
    publish: z.array(S.PublishSpec).max(64).optional(),
    rootDir: S.AbsPath.optional(),
    /**
     * An ext4 image to boot as the root (/dev/vda). The VM gets its own sparse copy and the file is only
     * read, unless `rootDiskRw`: then the VM boots the file itself and changes it.
     */
    rootDisk: S.AbsPath.optional(),
    rootDiskRw: z.boolean().optional(),
  })
  .strict();
const byName = z.object({ name: S.VmName }).strict();

export const contract = {
  'system:doctor': { input: none, output: S.DoctorReport },
  'system:info': {
    input: none,
    output: z.object({ version: z.string(), dataDir: z.string() }),
  },
  /** A name given to `rm`: the VM of that name, else the installed image; `kind` insists on one. */
  'system:resolve': {
    input: z.object({ name: z.string().min(1), kind: z.enum(['vm', 'image']).optional() }).strict(),
    output: S.Resolved,
  },
  'settings:get': { input: none, output: S.Settings },
  'settings:set': { input: S.Settings.partial().strict(), output: S.Settings },

  'catalog:list': {
    input: z.object({ refresh: z.boolean().optional() }).strict(),
    output: S.CatalogListing,
  },
  'catalog:sources': { input: none, output: z.array(S.CatalogSource) },
  'catalog:add': {
    input: z.object({ location: z.string().min(1, 'a manifest URL or path is required') }).strict(),
    output: S.CatalogSource,
  },
  'catalog:remove': { input: z.object({ id: z.number().int() }).strict(), output: z.null() },

  'images:list': { input: none, output: z.array(S.Image) },
  'images:pull': { input: z.object({ ref: z.string().min(1) }).strict(), output: S.Image },
  'images:remove': { input: z.object({ ref: z.string().min(1) }).strict(), output: z.null() },
  'images:verify': { input: none, output: z.array(S.VerifyResult) },
  'images:import': {
    input: z.object({ path: S.AbsPath, name: z.string().min(1).optional() }).strict(),
    output: S.Image,
  },

  /** Download and install bldy from the catalog; resolves with the installed program's path. */
  'vmm:install': { input: none, output: z.object({ path: z.string() }) },

  'downloads:list': { input: none, output: z.array(S.DownloadProgress) },
  'downloads:cancel': { input: z.object({ id: z.string().min(1) }).strict(), output: z.null() },

  'vms:list': { input: none, output: z.array(S.Vm) },
  'vms:get': { input: byName, output: S.Vm },
  'vms:create': { input: createVm, output: S.Vm },
  /**
   * One click: create the VM if it does not exist (the default name and bundle unless given; the other
   * fields apply only then), and start it, pulling what is missing.
   */
  'vms:launch': {
    input: createVm
      .partial()
      .extend({ image: z.string().min(1).optional() })
      .strict(),
    output: S.Vm,
  },
  /** What `vms:start` would run (the VMM and its argv), with nothing started, pulled or prepared. */
  'vms:plan': {
    input: z.object({ name: S.VmName, backend: S.Backend.optional() }).strict(),
    output: z.object({ bin: z.string(), args: z.array(z.string()) }),
  },
  'vms:start': { input: byName, output: S.Vm },
  'vms:stop': {
    input: z.object({ name: S.VmName, force: z.boolean().optional() }).strict(),
    output: S.Vm,
  },
  'vms:remove': {
    input: z.object({ name: S.VmName, keepRoot: z.boolean().optional() }).strict(),
    output: z.null(),
  },
  /**
   * Turn a stopped VM's 9p root directory into an ext4 root disk (`mkfs.ext4 -d`), which it boots from then
   * on: faster for work on many small files. The directory is kept. Size: what the root holds × 1.5 plus
   * 256 MiB unless given.
   */
  'vms:toDisk': {
    input: z
      .object({
        name: S.VmName,
        sizeMiB: z
          .number()
          .int()
          .min(16)
          .max(16 * 1024 * 1024)
          .optional(),
      })
      .strict(),
    output: S.Vm,
  },
  'vms:logs': {
    input: z.object({ name: S.VmName, bytes: z.number().int().positive().optional() }).strict(),
    output: z.string(),
  },

  'console:attach': { input: byName, output: z.object({ tail: z.string() }) },
  'console:detach': { input: byName, output: z.null() },
  'console:write': {
    input: z.object({ name: S.VmName, data: z.string().max(65536) }).strict(),
    output: z.null(),
  },
  'console:resize': {
    input: z
      .object({
        name: S.VmName,
        cols: z.number().int().min(1).max(1000),
        rows: z.number().int().min(1).max(1000),
      })
      .strict(),
    output: z.null(),
  },

  'shares:list': { input: z.object({ vm: S.VmName }).strict(), output: z.array(S.Share) },
  'shares:add': {
    input: z
      .object({
        vm: S.VmName,
        hostPath: S.AbsPath,
        readOnly: z.boolean().optional(),
        tag: S.ShareTag.optional(),
        guestPath: S.GuestPath.optional(),
      })
      .strict(),
    output: S.Share,
  },
  /**
   * A remote 9p share, `9p://HOST[:PORT]/ANAME` (port 564 by default), mounted by the guest over the VM's network;
   * or a JetStream one, `9p+quic://HOST:PORT/ANAME`, which needs `ca` (the one CA its server's certificate
   * chains to) and, for mTLS, `cert` and `key` together. The engine resolves each path (realpath) and checks
   * the files before it stores them.
   */
  'shares:addRemote': {
    input: z
      .object({
        vm: S.VmName,
        url: z.string().min(1).max(1024),
        readOnly: z.boolean().optional(),
        tag: S.ShareTag.optional(),
        guestPath: S.GuestPath.optional(),
        ca: S.AbsPath.optional(),
        cert: S.AbsPath.optional(),
        key: S.AbsPath.optional(),
      })
      .strict(),
    output: S.Share,
  },
  'shares:update': {
    input: z.object({ vm: S.VmName, tag: S.ShareTag, readOnly: z.boolean() }).strict(),
    output: S.Share,
  },
  'shares:remove': { input: z.object({ vm: S.VmName, tag: S.ShareTag }).strict(), output: z.null() },
  /** The VM's shares as /etc/fstab lines, with the mount options of `backend` (default qemu). */
  'shares:fstab': {
    input: z.object({ vm: S.VmName, backend: S.Backend.optional() }).strict(),
    output: z.array(z.string()),
  },

  'ports:list': { input: z.object({ vm: S.VmName }).strict(), output: z.array(S.Port) },
  'ports:add': { input: S.PublishSpec.extend({ vm: S.VmName }).strict(), output: S.Port },
  'ports:remove': {
    input: z
      .object({
        vm: S.VmName,
        hostPort: S.PortNumber,
        protocol: S.PortProtocol.optional(),
        hostAddr: S.Ipv4.optional(),
      })
      .strict(),
    output: z.null(),
  },

  'fs:list': { input: z.object({ path: S.AbsPath.optional() }).strict(), output: S.DirListing },
} as const;

export type Contract = typeof contract;
export type Channel = keyof Contract;
export type Input<C extends Channel> = z.input<Contract[C]['input']>;
export type Output<C extends Channel> = z.output<Contract[C]['output']>;

export const CHANNELS = Object.keys(contract) as Channel[];

/** The one push channel for events (Electron `webContents.send`, WebSocket frames). */
export const EVENT_CHANNEL = 'oklinux:event';

/** What every transport carries back for one call: the handler's result, or the error for people. */
export type Envelope<T = unknown> = { result: T } | { error: ErrorPayload };
