/**
 * Changing a VM's shares: the rules the engine holds whichever front end asks. A host folder is
 * checked (realpath, data directory; if its guest can write it, the guards of guards.ts: the programs
 * and code okLinux runs, folders other guests write) before it is shared; tags and guest
 * paths are unique and fit the kernel's command line; the layout check and the insert are one
 * transaction; a change to a running VM applies at its next start (the VM says so: `pendingRestart`).
 */
import type { Share } from '@contract';
import { OkError } from '@contract/errors';
import type { EngineContext } from '@core/context';
import type { RemoteShareRow, ShareRow } from '@core/store';
import { formatRemoteUrl, isQuicUrl, parseRemoteUrl, remoteMountParam, remoteTagBase } from '@core/remote';
import { readQuicTls, resolveQuicFiles } from '@core/remote/quic-url';
import { PendingChanges, type VmView } from '@core/vm/pending';
import { GUEST_INIT_PATH } from '@core/vm/root';
import { MAX_CMDLINE_BYTES } from '@core/vmm/spec';
import { netParam, tapName } from '@core/vmm/net';
import type { VmmBackend } from '@core/vmm/types';
import { checkTlsPlacement, shareGuards } from './guards';
import { checkShareHost, recheckShareHost } from './host';
import { validateShareLayout } from './layout';
import { fstabLine, guestCanWrite, mountOptions, mountParam, rootParams } from './mount';
import { defaultGuestPath } from './paths';
import { ROOT_TAG, tagFor } from './tags';

export const publicShare = ({ id: _id, vmId: _vmId, ...s }: ShareRow): Share => s;

/** A remote share as the contract shows it: its URL as `hostPath`, and its mount's state. */
export function publicRemoteShare(r: RemoteShareRow, vmRunning: boolean): Share {
  const live = vmRunning && !r.pending;
  return {
    vm: r.vm,
    tag: r.tag,
    hostPath: r.url,
    readOnly: r.readOnly,
    guestPath: r.guestPath,
    pending: r.pending,
    remote: {
      url: r.url,
      state: live ? r.state : 'idle',
      problem: live ? r.problem : null,
      ...(r.tls ? { tls: r.tls } : {}),
    },
  };
}

export class ShareChanges {
  /** A share change on a running VM applies at its next start. */
  private readonly pending: PendingChanges;

  constructor(
    private readonly ctx: EngineContext,
    vms: VmView,
    /** Folders of the app's own code: no guest-writable share may touch them. */
    private readonly appDirs: string[] = [],
  ) {
    this.pending = new PendingChanges(ctx, vms);
  }

  private get store() {
    return this.ctx.store;
  }

  /**
   * A share the guest can write (read-write, or any share of a VM set to bldy, which cannot keep one
   * read-only) must not hold what the host runs; an `auto` VM is checked again at start.
   */
  private guards(vm: string, readOnly: boolean, tag?: string) {
    return {
      guestWrites: guestCanWrite(this.store.vms.get(vm).backend === 'bldy' ? 'bldy' : 'qemu', readOnly),
      ...shareGuards(this.ctx, this.appDirs, { vm, ...(tag ? { tag } : {}) }),
    };
  }

  list(vm: string): Share[] {
    const running = this.pending.running(vm);
    return [
      ...this.store.shares.list(vm).map(publicShare),
      ...this.store.remoteShares.list(vm).map((r) => publicRemoteShare(r, running)),
    ];
  }

  /**
   * A remote 9p share (`9p://HOST[:PORT]/ANAME`): the guest mounts it over the VM's network, through the
   * supervisor's relay (core/remote/), so the VM needs QEMU's user-mode network (nat or restricted).
   * A JetStream share (`9p+quic://HOST:PORT/ANAME`) also needs its TLS files: each path is resolved
   * (realpath) and checked now (readable, a key of its owner's alone, exactly one CA certificate, a client
   * certificate with the key that matches it); the realpaths are stored, never the contents. The supervisor
   * reads them again at each connection (quic-url.ts `readQuicTls`).
   */
  addRemote(input: {
    vm: string;
    url: string;
    readOnly?: boolean;
    tag?: string;
    guestPath?: string;
    ca?: string;
    cert?: string;
    key?: string;
  }): Share {
    const { vm, readOnly, tag, guestPath } = input;
    const { store } = this;
    const row = store.vms.get(vm);
    if (row.net === 'none') {
      throw new OkError(
        'INVALID_INPUT',
        `The VM "${vm}" has no network (--net none), so it cannot mount a remote share. Make a VM with --net nat or restricted (restricted is enough: the share goes through okLinux's relay).`,
      );
    }
    const tap = tapName(row.net);
    if (tap !== null) {
      throw new OkError(
        'INVALID_INPUT',
        `The VM "${vm}" is on the TAP device ${tap}; okLinux's remote-share relay needs QEMU user-mode networking (--net nat or restricted). On a TAP, mount the server from inside the guest: mount -t 9p -o trans=tcp,port=PORT,version=9p2000.L,aname=ANAME HOST DIR.`,
      );
    }
    const url = formatRemoteUrl(parseRemoteUrl(input.url));
    let tls: RemoteShareRow['tls'] = null;
    if (isQuicUrl(url)) {
      tls = resolveQuicFiles(input);
      checkTlsPlacement(this.ctx, tls);
      readQuicTls(tls);
    } else if (input.ca || input.cert || input.key) {
      throw new OkError(
        'INVALID_INPUT',
        `--ca, --cert and --key are for 9p+quic:// shares; ${url} is plain 9p over TCP, which has no TLS: leave them out, or use 9p+quic://HOST:PORT/ANAME`,
      );
    }
    const live = this.pending.running(vm);
    const share = store.tx(() => {
      const local = store.shares.list(vm);
      const remote = store.remoteShares.list(vm);
      const same = remote.find((r) => r.url === url);
      if (same)
        throw new OkError('ALREADY_EXISTS', `${url} is already shared with the VM "${vm}" (tag "${same.tag}").`);
      const tags = [ROOT_TAG, ...local.map((s) => s.tag), ...remote.map((r) => r.tag)];
      const t = tag ?? tagFor(remoteTagBase(parseRemoteUrl(url)), tags);
      const gp = guestPath ?? defaultGuestPath(t);
      const taken =
        [...local, ...remote].find((s) => s.tag === t) ?? [...local, ...remote].find((s) => s.guestPath === gp);
      if (taken) {
        throw new OkError(
          'ALREADY_EXISTS',
          taken.tag === t
            ? `The VM "${vm}" already has a share tagged "${t}". Pick another tag with --tag.`
            : `The share "${taken.tag}" already mounts at ${gp} in the VM "${vm}". Pick another guest path with --guest-path.`,
        );
      }
      const next = { tag: t, url, readOnly: readOnly ?? false, guestPath: gp };
      this.checkSet(vm, local, [...remote, next]);
      return store.remoteShares.add(vm, { ...next, pending: live, tls });
    });
    store.events.append('share.added', vm, { tag: share.tag, url, ...(tls ? { tls } : {}) });
    this.pending.changed(vm, live);
    return publicRemoteShare(share, live);
  }

  async add(input: { vm: string; hostPath: string; readOnly?: boolean; tag?: string; guestPath?: string }) {
    const { vm, hostPath, readOnly, tag, guestPath } = input;
    const { store } = this;
    store.vms.get(vm);
    const real = await checkShareHost(hostPath, {
      writable: !readOnly,
      dataDir: this.ctx.paths.root,
      ...this.guards(vm, readOnly ?? false),
    });
    const live = this.pending.running(vm);
    // the layout check and the insert are one transaction, so racing adds cannot both pass
    const share = store.tx(() => {
      const existing = store.shares.list(vm);
      const same = existing.find((s) => s.hostPath === real);
      if (same) {
        throw new OkError('ALREADY_EXISTS', `${real} is already shared with the VM "${vm}" (tag "${same.tag}").`);
      }
      const remoteTags = store.remoteShares.list(vm).map((r) => r.tag);
      const t = tag ?? tagFor(real, [ROOT_TAG, ...existing.map((s) => s.tag), ...remoteTags]);
      const gp = guestPath ?? defaultGuestPath(t);
      const taken = existing.find((s) => s.tag === t) ?? existing.find((s) => s.guestPath === gp);
      if (taken) {
        throw new OkError(
          'ALREADY_EXISTS',
          taken.tag === t
            ? `The VM "${vm}" already has a share tagged "${t}" (${taken.hostPath}). Pick another tag with --tag.`
            : `The share "${taken.tag}" (${taken.hostPath}) already mounts at ${gp} in the VM "${vm}". Pick another guest path with --guest-path.`,
        );
      }
      const next = {
        tag: t,
        hostPath: real,
        readOnly: readOnly ?? false,
        guestPath: gp,
      };
      this.checkSet(vm, [...existing, next]);
      return store.shares.add(vm, { ...next, pending: live });
    });
    store.events.append('share.added', vm, { tag: share.tag, hostPath: real });
    this.pending.changed(vm, live);
    return publicShare(share);
  }

  async update(vm: string, tag: string, readOnly: boolean): Promise<Share> {
    const { store } = this;
    if (store.remoteShares.find(vm, tag)) {
      const live = this.pending.running(vm);
      const share = store.remoteShares.update(vm, tag, { readOnly, pending: live || undefined });
      this.pending.changed(vm, live);
      return publicRemoteShare(share, live);
    }
    const current = store.shares.get(vm, tag);
    // a share made writable must be writable, and must still be a folder it may be
    await recheckShareHost(current.hostPath, {
      writable: !readOnly,
      dataDir: this.ctx.paths.root,
      ...this.guards(vm, readOnly, tag),
    });
    this.checkSet(
      vm,
      store.shares.list(vm).map((s) => (s.tag === tag ? { ...s, readOnly } : s)),
    );
    const live = this.pending.running(vm);
    const share = store.shares.update(vm, tag, { readOnly, pending: live || undefined });
    this.pending.changed(vm, live);
    return publicShare(share);
  }

  remove(vm: string, tag: string): void {
    if (this.store.remoteShares.find(vm, tag)) this.store.remoteShares.remove(vm, tag);
    else this.store.shares.remove(vm, tag);
    this.store.events.append('share.removed', vm, { tag });
    this.pending.changed(vm, this.pending.running(vm));
  }

  /** The shares of a VM as fstab lines (`oklinux share ls --fstab`), for the backend it would use. */
  fstab(vm: string, backend: VmmBackend): string[] {
    return this.store.shares
      .list(vm)
      .map((s) => fstabLine({ tag: s.tag, guestPath: s.guestPath, mountOptions: mountOptions(backend, s.readOnly) }));
  }

  /**
   * The guest side of a VM's shares (`validateShareLayout`: tags, guest paths, uniqueness, no
   * nesting), and whether their kernel parameters still fit the kernel's command line next to the
   * VM's own (its image's, when installed, and --append): what `start` would otherwise refuse.
   */
  private checkSet(
    vm: string,
    shares: { tag: string; guestPath: string; readOnly: boolean }[],
    remote: { tag: string; guestPath: string; readOnly: boolean; url: string }[] = this.store.remoteShares.list(vm),
  ): void {
    validateShareLayout([...shares, ...remote]);
    const row = this.store.vms.get(vm);
    const fixed = [
      this.store.images.find(row.image)?.cmdline ?? '',
      'console=ttyS0 panic=-1',
      `oklinux.hostname=${vm}`,
      `init=${GUEST_INIT_PATH}`,
      rootParams('qemu'),
      netParam({ mode: row.net }),
      row.append,
    ];
    // QEMU's msize has the most digits: the longest form either backend would pass
    const params = [
      ...shares.map((s) => mountParam({ ...s, mountOptions: mountOptions('qemu', s.readOnly) })),
      ...remote.map((r, i) => remoteMountParam(r, i)),
    ];
    const bytes = Buffer.byteLength([...fixed, ...params].filter(Boolean).join(' '));
    if (bytes > MAX_CMDLINE_BYTES) {
      throw new OkError(
        'INVALID_INPUT',
        `with this share the VM "${vm}" would need a kernel command line of ${bytes} bytes, over the kernel's ` +
          `${MAX_CMDLINE_BYTES}; use shorter tags and guest paths, or fewer shares`,
      );
    }
  }
}
