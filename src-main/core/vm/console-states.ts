/**
 * What a guest reports on its console that its supervisor keeps in SQLite for `share ls`, `ls --json` and the
 * UI: the state of each remote share's mount, and the guest's address. The guest is hostile: each line is
 * parsed strictly, and only what it may change (its own shares' states, its shown address) is changed.
 */
import net from 'node:net';
import type { Store } from '@core/store';

/**
 * Splits the console's chunks into lines (without their `\r`) for the parsers below, so that each chunk is
 * split once. An unfinished line is kept up to its last 4096 characters.
 */
export function consoleLines(...parsers: ((line: string) => void)[]): (data: string) => void {
  let partial = '';
  return (data) => {
    const lines = (partial + data).split('\n');
    partial = lines.pop()!.slice(-4096);
    for (const raw of lines) {
      const line = raw.replace(/\r/g, '');
      for (const parse of parsers) parse(line);
    }
  };
}

const REMOTE_LINE = /oklinux-init: remote (\S+) (mounted on .*|failed: .*)$/;

/** What remoteShareStates needs of a launch plan: the VM and its remote shares' tags. */
export interface RemoteSharesOfPlan {
  vm: string;
  relay?: { shares: readonly { tag: string }[] } | null;
}

/**
 * The state of a VM's remote shares, kept in SQLite for `share ls` and the UI: `mounting` while the VM
 * boots, then `mounted`, `unreachable` (the relay could not reach the server: its reason wins over the
 * guest's, which only sees the connection close) or `failed` (the guest's reason), and `idle` after.
 */
export function remoteShareStates(plan: RemoteSharesOfPlan, store: () => Store | undefined) {
  const tags = new Set((plan.relay?.shares ?? []).map((s) => s.tag));
  const unreachable = new Map<string, string>();
  const set = (
    tag: string,
    state: 'mounting' | 'mounted' | 'unreachable' | 'failed' | 'idle',
    problem: string | null,
  ) => {
    try {
      store()?.remoteShares.setState(plan.vm, tag, state, problem);
    } catch (e) {
      process.stderr.write(`warning: cannot record the state of the remote share ${tag}: ${(e as Error).message}\n`);
    }
  };
  return {
    boot(): void {
      for (const tag of tags) set(tag, 'mounting', null);
    },
    unreachable(tag: string, reason: string): void {
      unreachable.set(tag, reason);
      set(tag, 'unreachable', reason);
    },
    /** One console line (from consoleLines). */
    line(line: string): void {
      if (!tags.size) return;
      const m = REMOTE_LINE.exec(line);
      if (!m || !tags.has(m[1]!)) return;
      const [, tag, what] = m as unknown as [string, string, string];
      if (what.startsWith('mounted')) {
        unreachable.delete(tag);
        set(tag, 'mounted', null);
      } else if (unreachable.has(tag)) {
        set(tag, 'unreachable', unreachable.get(tag)!);
      } else {
        set(tag, 'failed', what.slice('failed: '.length));
      }
    },
    end(): void {
      for (const tag of tags) set(tag, 'idle', null);
    },
  };
}

/** oklinux-init's line for the guest's address: `net IFACE ADDR/PREFIX via GATEWAY dhcp|static`. */
const NET_LINE =
  /^oklinux-init: net [A-Za-z0-9_.-]{1,15} (\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2}) via \S+ (?:dhcp|static)$/;

/**
 * The guest's address as it reports it (NET_LINE), kept in SQLite for `ls --json` and the UI. The guest is
 * not trusted: only a well-formed IPv4 address and prefix is stored, nothing else from the line.
 */
export function guestAddressOf(vm: string, store: () => Store | undefined) {
  const set = (address: string | null): void => {
    try {
      store()?.vms.update(vm, { guestAddress: address });
    } catch (e) {
      process.stderr.write(`warning: cannot record the guest's address: ${(e as Error).message}\n`);
    }
  };
  return {
    clear: (): void => set(null),
    /** One console line (from consoleLines). */
    line(line: string): void {
      if (line.length > 512) return;
      // from the line's last mention: firmware may leave escape codes at the start of the guest's first line
      const m = NET_LINE.exec(line.slice(Math.max(0, line.lastIndexOf('oklinux-init: net '))));
      if (!m) return;
      const [, addr, prefix] = m as unknown as [string, string, string];
      if (net.isIPv4(addr) && Number(prefix) <= 32) set(`${addr}/${Number(prefix)}`);
    },
  };
}
