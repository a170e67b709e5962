/**
 * The engine: one object that owns the state and implements every contract
 * operation. All three transports (Electron IPC, the WebSocket host, the CLI)
 * call it through `dispatch`, so validation and errors are the same everywhere.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { AppEvent, Channel, Envelope, Input, Output, Resolved, Vm } from '@contract';
import { dispatch, type Caller, type Handlers } from '@core/dispatch';
import { openContext, type EngineContext } from '@core/context';
import { OkError } from '@contract/errors';
import { systemHandlers } from '@core/services/system';
import { vmHandlers } from '@core/services/vms';
import { VmManager, type SupervisorLauncher } from '@core/vm/manager';
import { Images, toImage, type ImagesOptions } from '@core/images/service';
import { checkedRoot, prepareRootDir } from '@core/vm/root';
import { checkPinned } from '@core/images/integrity';
import { fstabLine, homeDir } from '@core/shares';
import { diskFullError } from '@core/datadir';

/** The app's resources (guest init, default manifest); packaged builds pass their own. */
export function defaultResourcesDir(): string {
  return fileURLToPath(new URL('../../resources', import.meta.url));
}

/** The bundle "Launch okLinux" and `oklinux run` use when none is named. */
export const DEFAULT_IMAGE = 'oklinux';
export const DEFAULT_VM = 'oklinux';

export interface EngineOptions {
  resourcesDir?: string;
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** How to start a VM's supervisor; defaults to this package's `oklinux __supervise`. */
  launcher?: SupervisorLauncher;
  images?: ImagesOptions;
}

export function defaultLauncher(): SupervisorLauncher {
  return {
    command: process.execPath,
    args: [fileURLToPath(new URL('../../bin/oklinux.mjs', import.meta.url)), '__supervise'],
  };
}

export class Engine {
  readonly ctx: EngineContext;
  readonly handlers: Handlers;
  readonly vms: VmManager;
  readonly images: Images;

  constructor(opts: EngineOptions = {}) {
    this.ctx = openContext(opts);
    const resources = opts.resourcesDir ?? defaultResourcesDir();
    const env = this.ctx.env;
    this.images = new Images(this.ctx, {
      builtinManifests: [env.OKLINUX_DEFAULT_MANIFEST ?? path.join(resources, 'manifests', 'default.json')],
      ...opts.images,
    });
    this.vms = new VmManager(this.ctx, {
      launcher: opts.launcher ?? defaultLauncher(),
      resolveImage: (ref, o) => this.images.bootImage(ref, o),
      prepareRoot: async (vm, image, shares) => {
        const managed = this.ctx.paths.rootDir(vm.name);
        const chosen = vm.rootDir ?? (image.rootfs ? managed : null);
        if (!chosen) return null;
        const root = await checkedRoot(chosen, managed, { dataDir: this.ctx.paths.root, home: homeDir(env) });
        // the tarball is read only to fill a new root: hash it again just before
        if (image.rootfsPin && !fs.existsSync(root)) await checkPinned(image.rootfsPin);
        await prepareRootDir({
          vm: vm.name,
          root,
          tarball: image.rootfs ?? null,
          initScript: path.join(resources, 'guest', 'oklinux-init'),
          fstabLines: shares.map(fstabLine),
        });
        if (!vm.rootDir) this.ctx.store.vms.update(vm.name, { rootDir: root });
        return root;
      },
    });
    const images = this.images;
    this.handlers = this.reportingDiskFull({
      ...systemHandlers(this.ctx),
      ...vmHandlers(this.ctx, this.vms),
      'catalog:list': async ({ refresh }) => {
        const { entries, warnings } = await images.catalog(refresh ?? false);
        return { entries, warnings };
      },
      'catalog:sources': () => images.sources(),
      'catalog:add': ({ location }) => images.addSource(location),
      'catalog:remove': ({ id }) => {
        images.removeSource(id);
        return null;
      },
      'images:list': () => images.list(),
      'images:pull': ({ ref }) => images.pull(ref),
      'images:remove': async ({ ref }) => {
        await images.remove(ref);
        return null;
      },
      'images:verify': () => images.verify(),
      'images:import': ({ path, name }) => images.import(path, name),
      'downloads:list': () => images.downloads(),
      'downloads:cancel': async ({ id }) => {
        await images.cancel(id);
        return null;
      },
      'vms:launch': (input) => this.launch(input),
      'vmm:install': async () => ({ path: await images.installVmm() }),
      'system:resolve': ({ name, kind }) => this.resolve(name, kind),
    });
  }

  /** Things people should hear once, found while opening the data directory (see `EngineContext`). */
  get notices(): readonly string[] {
    return this.ctx.notices;
  }

  /** A failure that comes from a full disk says so, naming the data directory, whichever layer hit it. */
  diskFull(e: unknown): unknown {
    return diskFullError(e, this.ctx.paths.root) ?? e;
  }

  private reportingDiskFull(handlers: Handlers): Handlers {
    type Fn = (input: never, caller: Caller) => unknown;
    const wrapped: Record<string, Fn> = {};
    for (const [channel, fn] of Object.entries(handlers) as unknown as [string, Fn][]) {
      wrapped[channel] = async (input: never, caller: Caller) => {
        try {
          return await fn(input, caller);
        } catch (e) {
          throw this.diskFull(e);
        }
      };
    }
    return wrapped as unknown as Handlers;
  }

  /**
   * One click: create the VM if it does not exist (with the default okLinux
   * bundle unless `image` is given), then start it, pulling what is missing.
   */
  async launch(input: Input<'vms:launch'> = {}): Promise<Vm> {
    const { name = DEFAULT_VM, image, ...create } = input;
    if (!this.ctx.store.vms.find(name)) {
      await this.invoke('vms:create', { ...create, name, image: image ?? DEFAULT_IMAGE });
    }
    const vm = await this.invoke('vms:get', { name });
    if (vm.state === 'running' || vm.state === 'starting') return vm;
    return this.invoke('vms:start', { name });
  }

  /**
   * What a name given to `rm` means: the VM of that name, which wins over an image of the same name
   * (the default VM and bundle are both "oklinux"), else the installed image; `kind` insists on one.
   */
  private resolve(name: string, kind?: 'vm' | 'image'): Resolved {
    const isVm = !!this.ctx.store.vms.find(name);
    const image = this.ctx.store.images.find(name);
    const asVm = kind === 'vm' || (kind !== 'image' && isVm);
    if (asVm) return { kind: 'vm', vm: this.vms.vm(name) };
    if (image) return { kind: 'image', image: toImage(image) };
    throw new OkError(
      'NOT_FOUND',
      kind === 'image'
        ? `The image "${name}" is not installed.`
        : `There is no VM or installed image named "${name}". See "oklinux ls" and "oklinux images".`,
    );
  }

  /** One contract call from a transport, which says who is calling (see `Caller`). */
  call(channel: string, payload: unknown, caller: Caller): Promise<Envelope> {
    return dispatch(this.handlers, channel, payload, caller);
  }

  /** Call from this process (the CLI, the app's main process) and unwrap: throws the OkError of an error envelope. */
  async invoke<C extends Channel>(channel: C, payload: Input<C>): Promise<Output<C>> {
    const env = await this.call(channel, payload, 'local');
    if ('error' in env) throw new OkError(env.error.code, env.error.message);
    return env.result as never;
  }

  onEvent(listener: (e: AppEvent) => void): () => void {
    return this.ctx.bus.on(listener);
  }

  async close(): Promise<void> {
    this.vms.close();
    await this.images.close();
    this.ctx.store.close();
  }
}
