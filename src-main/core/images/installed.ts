/**
 * Installed images: the list, removal (and the store files no image uses any more), verification (every
 * artifact rehashed, the installed bldy too), local import, and the boot files a VM needs, hashed again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Image, VerifyResult } from '@contract';
import { OkError } from '@contract/errors';
import type { EngineContext } from '@core/context';
import { sha256File, type Downloader } from '@core/download';
import { OKLINUX_KERNEL_MEMBER } from '@core/catalog';
import { extractMember } from '@core/extract';
import type { ImageRow } from '@core/store';
import type { BootImage } from '@core/vm/manager';
import type { Catalog } from './catalog';
import type { Installer } from './installer';
import { fileSize, toImage } from './image';
import { checkPinned, type PinnedFile } from './integrity';

type Role = 'kernel' | 'initrd' | 'rootfs';

export class InstalledImages {
  constructor(
    private readonly ctx: EngineContext,
    private readonly downloader: Downloader,
    private readonly installer: Installer,
    private readonly catalogs: Catalog,
  ) {}

  private get store() {
    return this.ctx.store;
  }

  list(): Image[] {
    return this.store.images.list().map(toImage);
  }

  async remove(ref: string): Promise<void> {
    const inUse = this.store.vms.list().filter((v) => v.image === ref);
    if (inUse.length) {
      throw new OkError(
        'CONFLICT',
        `The image "${ref}" is used by ${inUse.map((v) => `"${v.name}"`).join(', ')}; remove those VMs first.`,
      );
    }
    this.store.images.remove(ref);
    for (const a of this.store.artifacts.unreferenced()) {
      await this.downloader.cas.remove(a.sha256);
      this.store.artifacts.remove(a.sha256);
    }
    this.ctx.bus.emit({ type: 'catalog:changed' });
  }

  /**
   * Rehash every artifact against its name. A damaged file is taken out of the
   * store (its content is not what its name says), so the next pull fetches it again.
   */
  async verify(): Promise<VerifyResult[]> {
    const out: VerifyResult[] = [];
    const images = this.store.images.list();
    for (const a of this.store.artifacts.list()) {
      const r = await this.downloader.cas
        .verify(a.sha256)
        .catch((e: unknown) => ({ ok: false as const, actual: '', err: e }));
      let problem: string | null = null;
      if (!r.ok) {
        const users = images.filter((img) => img.artifacts.some((x) => x.sha256 === a.sha256));
        const repair = users.length
          ? `used by ${users.map((img) => `"${img.ref}"`).join(', ')}: ` +
            users.map((img) => (img.kind === 'local' ? 'import it again' : `run "oklinux pull ${img.ref}"`)).join(', ')
          : 'a download cache no image uses';
        if ('err' in r) {
          problem = `cannot be read (${(r.err as Error).message}); ${repair}`;
        } else {
          await this.downloader.cas.remove(a.sha256);
          problem = `its content hashes to ${r.actual}, so it was removed from the store; ${repair}`;
        }
      }
      out.push({ sha256: a.sha256, path: a.path, ok: r.ok, problem });
    }
    const bldy = await this.verifyBldy();
    if (bldy) out.push(bldy);
    return out;
  }

  /**
   * The installed bin/bldy against the digest recorded when it was installed. A
   * changed one is removed (starts refuse it anyway); one okLinux did not
   * install is reported, never run, and left alone.
   */
  private async verifyBldy(): Promise<VerifyResult | null> {
    const bin = path.join(this.ctx.paths.bin, 'bldy');
    if (!fs.existsSync(bin)) return null;
    const actual = await sha256File(bin).then(
      (r) => r.sha256,
      () => null,
    );
    const rec = this.store.vmms.get('bldy');
    if (!rec) {
      return {
        sha256: actual ?? '0'.repeat(64),
        path: bin,
        ok: false,
        problem:
          'okLinux Desktop did not install it (no digest on record), so it is never run; remove it, or run "oklinux pull bldy"',
      };
    }
    if (actual === rec.sha256) return { sha256: rec.sha256, path: bin, ok: true, problem: null };
    fs.rmSync(bin, { force: true });
    return {
      sha256: rec.sha256,
      path: bin,
      ok: false,
      problem: `${actual ? `its content hashes to ${actual}` : 'it cannot be read'}, not to the digest recorded at install, so it was removed; run "oklinux pull bldy" to install it again`,
    };
  }

  /** Import a kernel file, a tarball holding arch/x86/boot/bzImage, or a manifest (added as a catalog source). */
  async import(src: string, name?: string): Promise<Image> {
    if (!fs.existsSync(src)) throw new OkError('NOT_FOUND', `${src} does not exist.`);
    if (src.endsWith('.json')) {
      await this.catalogs.addSource(src);
      throw new OkError(
        'INVALID_INPUT',
        `${src} is a manifest: it was added as a catalog source. Pull one of its bundles.`,
      );
    }
    const ref = name ?? path.basename(src).replace(/\.(tar\.gz|tgz)$/, '');
    let sha: string;
    if (/\.(tar\.gz|tgz)$/.test(src)) {
      const tmp = path.join(this.ctx.paths.store, `.import-${process.pid}-${Date.now()}`);
      try {
        await extractMember(src, OKLINUX_KERNEL_MEMBER, tmp);
        sha = (await this.installer.importLocal(tmp, null)).sha256;
      } catch (e) {
        throw this.installer.diskFull(e);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    } else {
      sha = (await this.installer.importLocal(src, null)).sha256;
    }
    const a = this.downloader.cas.path(sha);
    this.store.artifacts.put({ sha256: sha, size: fs.statSync(a).size, path: a, origin: src });
    const row = this.store.images.install({ ref, kind: 'local', version: 'local', cmdline: 'console=ttyS0' }, [
      { role: 'kernel', sha256: sha },
    ]);
    this.ctx.bus.emit({ type: 'catalog:changed' });
    return toImage(row);
  }

  /**
   * Boot files for `ref`, pulling it first if `pull`. The kernel and initrd are
   * hashed again here (CHECKSUM when one changed since it was installed) and
   * returned as `pinned`, for the supervisor's own check right before the VMM
   * runs; the rootfs tarball is checked by size here and hashed before it is
   * extracted (`rootfsPin`).
   */
  async bootImage(
    ref: string,
    opts: { pull: boolean; signal?: AbortSignal },
  ): Promise<BootImage & { rootfs: string | null; image: ImageRow }> {
    let img = this.store.images.find(ref);
    if (!img) {
      if (!opts.pull) this.store.images.get(ref); // throws NOT_FOUND with the pull hint
      await this.installer.pull(ref, opts.signal ? { signal: opts.signal } : {});
      img = this.store.images.get(ref);
    }
    const repair =
      img.kind === 'local'
        ? `Run "oklinux verify" (it takes damaged files out of the store), then import "${ref}" again.`
        : `Run "oklinux verify" (it takes damaged files out of the store), then "oklinux pull ${ref}".`;
    const pins = new Map<Role, PinnedFile>();
    for (const a of img.artifacts) {
      if (fileSize(a.path) !== a.size) {
        throw new OkError('CHECKSUM', `The ${a.role} of "${ref}" (${a.path}) is missing or damaged. ${repair}`);
      }
      const pin = { what: `the ${a.role} of "${ref}"`, path: a.path, sha256: a.sha256, repair };
      if (a.role !== 'rootfs') await checkPinned(pin);
      pins.set(a.role, pin);
    }
    const kernel = pins.get('kernel');
    if (!kernel) throw new OkError('NOT_FOUND', `The image "${ref}" has no kernel.`);
    const initrd = pins.get('initrd');
    const rootfs = pins.get('rootfs');
    return {
      kernelPath: kernel.path,
      ...(initrd ? { initrdPath: initrd.path } : {}),
      cmdline: img.cmdline,
      rootfs: rootfs?.path ?? null,
      rootfsFormat: img.rootfsFormat,
      virtioMmio: img.virtioMmio,
      ...(rootfs ? { rootfsPin: rootfs } : {}),
      pinned: initrd ? [kernel, initrd] : [kernel],
      image: img,
    };
  }
}
