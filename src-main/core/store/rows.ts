/** The rows the store hands out, and how each is read from SQLite's raw columns. */
import type { Port, RemoteShareState, Share, Vm } from '@contract';
import type { ErrorPayload } from '@contract/errors';
import type { DownloadRecord } from '@core/download/types';

export interface ArtifactRow {
  sha256: string;
  size: number;
  path: string;
  origin: string;
  createdAt: string;
}
export interface ImageRow {
  id: number;
  ref: string;
  kind: 'oklinux-release' | 'bundle' | 'local';
  version: string;
  cmdline: string;
  installedAt: string;
  /** The rootfs artifact's format from its manifest (null: a tarball, as before formats were recorded). */
  rootfsFormat: string | null;
  /** Its kernel has virtio-mmio built in (okLinux's; a manifest's `virtioMmio`): QEMU may boot it on microvm. */
  virtioMmio: boolean;
  artifacts: { role: 'kernel' | 'initrd' | 'rootfs'; sha256: string; size: number; path: string }[];
}
export interface SourceRow {
  id: number;
  kind: 'github' | 'manifest';
  location: string;
  body: string | null;
  addedAt: string;
}
export interface VmRow extends Omit<Vm, 'pendingRestart' | 'managedRoot' | 'rootDiskBytes' | 'rootDiskInPlace'> {
  id: number;
  restartNeeded: boolean;
  supervisorPid: number | null;
  controlSocket: string | null;
  argv: string[] | null;
  createdAt: string;
}
export interface ShareRow extends Share {
  id: number;
  vmId: number;
}
export interface RemoteShareRow {
  id: number;
  vmId: number;
  vm: string;
  tag: string;
  /** Canonical `9p://HOST:PORT/ANAME`. */
  url: string;
  guestPath: string;
  readOnly: boolean;
  pending: boolean;
  state: RemoteShareState;
  problem: string | null;
  /** A `9p+quic://` share's TLS files (realpaths; the key's contents are never stored), else null. */
  tls: { ca: string; cert?: string; key?: string } | null;
}
export interface PortRow extends Omit<Port, 'exposed'> {
  id: number;
  vmId: number;
}
export interface EventRow {
  id: number;
  at: string;
  kind: string;
  subject: string | null;
  data: unknown;
}

export type Raw = Record<string, unknown>;

export function vmFromRaw(r: Raw): VmRow {
  return {
    id: r.id as number,
    name: r.name as string,
    image: r.image_ref as string,
    cpus: r.cpus as number,
    memoryMiB: r.memory_mib as number,
    append: r.extra_cmdline as string,
    backend: r.backend as VmRow['backend'],
    accel: r.accel as VmRow['accel'],
    net: (r.net_tap ? `tap:${r.net_tap as string}` : r.net) as VmRow['net'],
    machine: ((r.machine as string | null) ?? 'auto') as VmRow['machine'],
    state: r.state as VmRow['state'],
    pid: (r.pid as number | null) ?? null,
    supervisorPid: (r.supervisor_pid as number | null) ?? null,
    controlSocket: (r.control_socket as string | null) ?? null,
    argv: r.argv ? (JSON.parse(r.argv as string) as string[]) : null,
    startedAt: (r.started_at as string | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    exitSignal: (r.exit_signal as string | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    rootDir: (r.root_dir as string | null) ?? null,
    rootDisk: (r.root_disk as string | null) ?? null,
    rootDiskSource: (r.root_disk_source as string | null) ?? null,
    guestAddress: (r.guest_address as string | null) ?? null,
    restartNeeded: r.restart_needed === 1,
    createdAt: r.created_at as string,
  };
}

export function sourceFromRaw(r: Raw): SourceRow {
  return {
    id: r.id as number,
    kind: r.kind as SourceRow['kind'],
    location: r.location as string,
    body: (r.body as string | null) ?? null,
    addedAt: r.added_at as string,
  };
}

export function artifactFromRaw(r: Raw): ArtifactRow {
  return {
    sha256: r.sha256 as string,
    size: r.size as number,
    path: r.path as string,
    origin: r.origin as string,
    createdAt: r.created_at as string,
  };
}

export function shareFromRaw(r: Raw): ShareRow {
  return {
    id: r.id as number,
    vmId: r.vm_id as number,
    vm: r.vm_name as string,
    tag: r.tag as string,
    hostPath: r.host_path as string,
    readOnly: r.read_only === 1,
    guestPath: r.guest_path as string,
    pending: r.pending === 1,
  };
}

export function portFromRaw(r: Raw): PortRow {
  return {
    id: r.id as number,
    vmId: r.vm_id as number,
    vm: r.vm_name as string,
    hostAddr: r.host_addr as string,
    hostPort: r.host_port as number,
    guestPort: r.guest_port as number,
    protocol: r.protocol as PortRow['protocol'],
    pending: r.pending === 1,
  };
}

export function downloadFromRaw(r: Raw): DownloadRecord {
  return {
    id: r.id as string,
    url: r.url as string,
    partPath: r.part_path as string,
    bytesDone: r.bytes_done as number,
    total: (r.total as number | null) ?? null,
    etag: (r.etag as string | null) ?? null,
    lastModified: (r.last_modified as string | null) ?? null,
    expectedSha256: (r.expected_sha256 as string | null) ?? null,
    sha256: (r.sha256 as string | null) ?? null,
    state: r.state as DownloadRecord['state'],
    error: r.error ? (JSON.parse(r.error as string) as ErrorPayload) : null,
  };
}

export function remoteShareFromRaw(r: Raw): RemoteShareRow {
  return {
    id: r.id as number,
    vmId: r.vm_id as number,
    vm: r.vm_name as string,
    tag: r.tag as string,
    url: r.url as string,
    guestPath: r.guest_path as string,
    readOnly: r.read_only === 1,
    pending: r.pending === 1,
    state: r.state as RemoteShareState,
    problem: (r.problem as string | null) ?? null,
    tls: r.tls_ca
      ? {
          ca: r.tls_ca as string,
          ...(r.tls_cert ? { cert: r.tls_cert as string, key: r.tls_key as string } : {}),
        }
      : null,
  };
}
