/** The VMs, shares and ports tables of the store (see index.ts), each an object of queries over one table. */
import { OkError } from '@contract/errors';
import { guard, mapSqliteError } from './errors';
import {
  portFromRaw,
  remoteShareFromRaw,
  shareFromRaw,
  vmFromRaw,
  type PortRow,
  type Raw,
  type RemoteShareRow,
  type ShareRow,
  type VmRow,
} from './rows';
import type { Db } from './db';

const now = (): string => new Date().toISOString();

/** What a table needs of the store: the database, and its transactions. */
export interface StoreCore {
  readonly db: Db;
  tx<T>(fn: () => T): T;
}

export type VmTable = ReturnType<typeof vmTable>;

export function vmTable(store: StoreCore) {
  const t = {
    list: (): VmRow[] => (store.db.prepare('SELECT * FROM vms ORDER BY name').all() as Raw[]).map(vmFromRaw),
    find: (name: string): VmRow | undefined => {
      const r = store.db.prepare('SELECT * FROM vms WHERE name = ?').get(name) as Raw | undefined;
      return r && vmFromRaw(r);
    },
    get: (name: string): VmRow => {
      const vm = t.find(name);
      if (!vm) throw new OkError('NOT_FOUND', `There is no VM named "${name}". See "oklinux ls".`);
      return vm;
    },
    create: (v: {
      name: string;
      image: string;
      cpus: number;
      memoryMiB: number;
      append: string;
      backend: VmRow['backend'];
      accel: VmRow['accel'];
      net: VmRow['net'];
      rootDir: string | null;
      rootDisk?: string | null;
      rootDiskSource?: string | null;
      machine?: VmRow['machine'];
    }): VmRow =>
      guard(`A VM named "${v.name}"`, () => {
        store.db
          .prepare(
            `INSERT INTO vms(name, image_ref, cpus, memory_mib, extra_cmdline, backend, accel, net, net_tap, root_dir,
                             created_at, root_disk, root_disk_source, machine)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            v.name,
            v.image,
            v.cpus,
            v.memoryMiB,
            v.append,
            v.backend,
            v.accel,
            // a TAP is stored as net 'none' plus its name (migration 6)
            v.net.startsWith('tap:') ? 'none' : v.net,
            v.net.startsWith('tap:') ? v.net.slice(4) : null,
            v.rootDir,
            now(),
            v.rootDisk ?? null,
            v.rootDiskSource ?? null,
            // 'auto' is stored as NULL (migration 9)
            v.machine && v.machine !== 'auto' ? v.machine : null,
          );
        return t.get(v.name);
      }),
    /** Update runtime columns. */
    update: (
      name: string,
      patch: Partial<
        Pick<
          VmRow,
          | 'state'
          | 'pid'
          | 'supervisorPid'
          | 'controlSocket'
          | 'argv'
          | 'startedAt'
          | 'exitCode'
          | 'exitSignal'
          | 'lastError'
          | 'rootDir'
          | 'rootDisk'
          | 'rootDiskSource'
          | 'guestAddress'
          | 'image'
          | 'restartNeeded'
        >
      >,
    ): VmRow => {
      const cols: Record<string, string> = {
        state: 'state',
        pid: 'pid',
        supervisorPid: 'supervisor_pid',
        controlSocket: 'control_socket',
        argv: 'argv',
        startedAt: 'started_at',
        exitCode: 'exit_code',
        exitSignal: 'exit_signal',
        lastError: 'last_error',
        rootDir: 'root_dir',
        rootDisk: 'root_disk',
        rootDiskSource: 'root_disk_source',
        guestAddress: 'guest_address',
        image: 'image_ref',
        restartNeeded: 'restart_needed',
      };
      const sets: string[] = [];
      const vals: unknown[] = [];
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) continue;
        sets.push(`${cols[k]} = ?`);
        vals.push(k === 'argv' && v !== null ? JSON.stringify(v) : typeof v === 'boolean' ? Number(v) : v);
      }
      if (sets.length) {
        const info = guard(`The VM "${name}"`, () =>
          store.db.prepare(`UPDATE vms SET ${sets.join(', ')} WHERE name = ?`).run(...vals, name),
        );
        if (info.changes === 0) t.get(name);
      }
      return t.get(name);
    },
    /**
     * Atomically move a VM from one of `from` to `to`; returns false when its
     * state was not one of `from` (someone else won the race).
     */
    transition: (name: string, from: VmRow['state'][], to: VmRow['state']): boolean => {
      const marks = from.map(() => '?').join(', ');
      const info = store.db
        .prepare(`UPDATE vms SET state = ? WHERE name = ? AND state IN (${marks})`)
        .run(to, name, ...from);
      if (info.changes === 0) t.get(name);
      return info.changes === 1;
    },
    remove: (name: string): void => {
      const info = store.db.prepare('DELETE FROM vms WHERE name = ?').run(name);
      if (info.changes === 0) t.get(name);
    },
  };
  return t;
}

export function shareTable(store: StoreCore, vms: VmTable) {
  const t = {
    list: (vmName: string): ShareRow[] => {
      vms.get(vmName);
      return (
        store.db
          .prepare(
            `SELECT s.*, v.name AS vm_name FROM shares s JOIN vms v ON v.id = s.vm_id WHERE v.name = ? ORDER BY s.id`,
          )
          .all(vmName) as Raw[]
      ).map(shareFromRaw);
    },
    get: (vmName: string, tag: string): ShareRow => {
      const s = t.list(vmName).find((x) => x.tag === tag);
      if (!s)
        throw new OkError(
          'NOT_FOUND',
          `The VM "${vmName}" has no share tagged "${tag}". See "oklinux share ls ${vmName}".`,
        );
      return s;
    },
    add: (
      vmName: string,
      s: { tag: string; hostPath: string; readOnly: boolean; guestPath: string; pending: boolean },
    ): ShareRow => {
      const vm = vms.get(vmName);
      try {
        store.db
          .prepare(
            'INSERT INTO shares(vm_id, host_path, tag, read_only, guest_path, pending) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(vm.id, s.hostPath, s.tag, s.readOnly ? 1 : 0, s.guestPath, s.pending ? 1 : 0);
      } catch (e) {
        const msg = (e as Error).message;
        if (msg.includes('shares.host_path')) {
          throw new OkError('ALREADY_EXISTS', `${s.hostPath} is already shared with the VM "${vmName}".`, { cause: e });
        }
        if (msg.includes('shares.tag')) {
          throw new OkError(
            'ALREADY_EXISTS',
            `The VM "${vmName}" already has a share tagged "${s.tag}". Pick another tag.`,
            {
              cause: e,
            },
          );
        }
        mapSqliteError(e, `The share ${s.tag}`);
      }
      return t.get(vmName, s.tag);
    },
    update: (vmName: string, tag: string, patch: { readOnly?: boolean; pending?: boolean }): ShareRow => {
      const s = t.get(vmName, tag);
      store.db
        .prepare('UPDATE shares SET read_only = ?, pending = ? WHERE id = ?')
        .run((patch.readOnly ?? s.readOnly) ? 1 : 0, (patch.pending ?? s.pending) ? 1 : 0, s.id);
      return t.get(vmName, tag);
    },
    remove: (vmName: string, tag: string): void => {
      const s = t.get(vmName, tag);
      store.db.prepare('DELETE FROM shares WHERE id = ?').run(s.id);
    },
    /** Everything now applies: called when a VM starts. */
    clearPending: (vmName: string): void => {
      const vm = vms.get(vmName);
      store.tx(() => {
        store.db.prepare('UPDATE shares SET pending = 0 WHERE vm_id = ?').run(vm.id);
        store.db.prepare('UPDATE vms SET restart_needed = 0 WHERE id = ?').run(vm.id);
      });
    },
  };
  return t;
}

/** The ports a VM publishes on the host (see vm/ports.ts). */
export function portTable(store: StoreCore, vms: VmTable) {
  const t = {
    list: (vmName: string): PortRow[] => {
      vms.get(vmName);
      return (
        store.db
          .prepare(
            `SELECT p.*, v.name AS vm_name FROM ports p JOIN vms v ON v.id = p.vm_id WHERE v.name = ? ORDER BY p.id`,
          )
          .all(vmName) as Raw[]
      ).map(portFromRaw);
    },
    add: (
      vmName: string,
      p: { hostAddr: string; hostPort: number; guestPort: number; protocol: PortRow['protocol']; pending: boolean },
    ): PortRow => {
      const vm = vms.get(vmName);
      const info = guard(`The port ${p.hostAddr}:${p.hostPort}/${p.protocol} of the VM "${vmName}"`, () =>
        store.db
          .prepare(
            'INSERT INTO ports(vm_id, host_addr, host_port, guest_port, protocol, pending) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(vm.id, p.hostAddr, p.hostPort, p.guestPort, p.protocol, p.pending ? 1 : 0),
      );
      return t.list(vmName).find((x) => x.id === Number(info.lastInsertRowid))!;
    },
    remove: (vmName: string, id: number): void => {
      const vm = vms.get(vmName);
      store.db.prepare('DELETE FROM ports WHERE id = ? AND vm_id = ?').run(id, vm.id);
    },
    /** Everything now applies: called when a VM starts. */
    clearPending: (vmName: string): void => {
      const vm = vms.get(vmName);
      store.db.prepare('UPDATE ports SET pending = 0 WHERE vm_id = ?').run(vm.id);
    },
  };
  return t;
}

/** Remote 9p shares (see core/remote/): their URL, where the guest mounts them, and how the last mount went. */
export function remoteShareTable(store: StoreCore, vms: VmTable) {
  const t = {
    list: (vmName: string): RemoteShareRow[] => {
      vms.get(vmName);
      return (
        store.db
          .prepare(
            `SELECT r.*, v.name AS vm_name FROM remote_shares r JOIN vms v ON v.id = r.vm_id WHERE v.name = ? ORDER BY r.id`,
          )
          .all(vmName) as Raw[]
      ).map(remoteShareFromRaw);
    },
    find: (vmName: string, tag: string): RemoteShareRow | undefined => t.list(vmName).find((x) => x.tag === tag),
    add: (
      vmName: string,
      r: {
        tag: string;
        url: string;
        readOnly: boolean;
        guestPath: string;
        pending: boolean;
        tls?: RemoteShareRow['tls'];
      },
    ): RemoteShareRow => {
      const vm = vms.get(vmName);
      guard(`The remote share ${r.url} of the VM "${vmName}"`, () =>
        store.db
          .prepare(
            'INSERT INTO remote_shares(vm_id, tag, url, guest_path, read_only, pending, tls_ca, tls_cert, tls_key) ' +
              'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            vm.id,
            r.tag,
            r.url,
            r.guestPath,
            r.readOnly ? 1 : 0,
            r.pending ? 1 : 0,
            r.tls?.ca ?? null,
            r.tls?.cert ?? null,
            r.tls?.key ?? null,
          ),
      );
      return t.find(vmName, r.tag)!;
    },
    update: (vmName: string, tag: string, patch: { readOnly?: boolean; pending?: boolean }): RemoteShareRow => {
      const r = t.find(vmName, tag)!;
      store.db
        .prepare('UPDATE remote_shares SET read_only = ?, pending = ? WHERE id = ?')
        .run((patch.readOnly ?? r.readOnly) ? 1 : 0, (patch.pending ?? r.pending) ? 1 : 0, r.id);
      return t.find(vmName, tag)!;
    },
    remove: (vmName: string, tag: string): void => {
      const vm = vms.get(vmName);
      store.db.prepare('DELETE FROM remote_shares WHERE vm_id = ? AND tag = ?').run(vm.id, tag);
    },
    /** How a share's mount went (the supervisor, from the relay and the guest's console line). */
    setState: (vmName: string, tag: string, state: RemoteShareRow['state'], problem: string | null): void => {
      const vm = vms.get(vmName);
      store.db
        .prepare('UPDATE remote_shares SET state = ?, problem = ? WHERE vm_id = ? AND tag = ?')
        .run(state, problem, vm.id, tag);
    },
    /** Everything now applies: called when a VM starts. */
    clearPending: (vmName: string): void => {
      const vm = vms.get(vmName);
      store.db.prepare('UPDATE remote_shares SET pending = 0 WHERE vm_id = ?').run(vm.id);
    },
  };
  return t;
}
