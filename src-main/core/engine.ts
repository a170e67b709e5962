/**
 * The engine: it wires the parts together (the context, the images, the VMs, the shares) and registers
 * one handler module per contract service (services/). All three transports (Electron IPC, the
 * WebSocket host, the CLI) call it through `dispatch`, so validation and errors are the same everywhere.
 * It holds no domain rule itself: those live in vm/, shares/, images/ and the rest.
 *
 * This folder (core/) is the engine: state, downloads, images, VMs and shares. Front ends reach it only
 * through the contract (`Engine.call`/`invoke`, and its events); it never imports Electron, nor
 * electron/, host/, cli/ or src-renderer/.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppEvent, Channel, Envelope, Input, Output } from '@contract';
import { OkError, toErrorPayload } from '@contract/errors';
import { dispatch, type Caller, type Handlers } from '@core/dispatch';
import { openContext, type EngineContext } from '@core/context';
import { diskFullError } from '@core/datadir';
import type { ImagesOptions } from '@core/images/service';
import type { SupervisorLauncher } from '@core/vm/manager';
import type { EngineParts } from '@core/services/parts';

export { DEFAULT_IMAGE, DEFAULT_VM } from '@core/vm/defaults';

type Part = Exclude<keyof EngineParts, 'ctx'>;
type Service = Channel extends `${infer S}:${string}` ? S : never;
type HandlerFactory = (parts: EngineParts) => Partial<Handlers>;

/**
 * Each contract service's handler module, loaded on its first call, and the parts of the engine it uses.
 * Nothing else is loaded: `oklinux ls` opens the database and loads the VM manager, never the
 * downloader, the catalog, tar or the HTTP client (bench/cli.mjs measures it).
 */
const SERVICES: Record<Service, { parts: Part[]; load(): Promise<HandlerFactory> }> = {
  system: { parts: ['vms'], load: async () => (await import('@core/services/system')).systemHandlers },
  settings: { parts: [], load: async () => (await import('@core/services/settings')).settingsHandlers },
  catalog: { parts: ['images'], load: async () => (await import('@core/services/catalog')).catalogHandlers },
  images: { parts: ['images'], load: async () => (await import('@core/services/images')).imageHandlers },
  vmm: { parts: ['images'], load: async () => (await import('@core/services/vmm')).vmmHandlers },
  downloads: { parts: ['images'], load: async () => (await import('@core/services/downloads')).downloadHandlers },
  vms: { parts: ['vms'], load: async () => (await import('@core/services/vms')).vmHandlers },
  console: { parts: ['vms'], load: async () => (await import('@core/services/console')).consoleHandlers },
  shares: { parts: ['shares'], load: async () => (await import('@core/services/shares')).shareHandlers },
  ports: { parts: ['ports'], load: async () => (await import('@core/services/ports')).portHandlers },
  fs: { parts: [], load: async () => (await import('@core/services/fs')).fsHandlers },
};

/** The app's resources (guest init, default manifest); packaged builds pass their own. */
export function defaultResourcesDir(): string {
  return fileURLToPath(new URL('../../resources', import.meta.url));
}

/** This package's folder (sources or bundle, bin/, node_modules); node_modules may be a link elsewhere. */
function packageRoot(): string {
  return fileURLToPath(new URL('../..', import.meta.url));
}

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
    args: [fileURLToPath(new URL('../../bin/oklinux.cjs', import.meta.url)), '__supervise'],
  };
}

/**
 * The remote-share relay client QEMU's guestfwd runs per guest connection: this runtime (node, or the
 * Electron binary as node) on a small script of the app's resources. No secret: the relay socket is in
 * the VM's private socket folder.
 */
export function relayClientArgv(resources: string): string[] {
  return [
    '/usr/bin/env',
    'ELECTRON_RUN_AS_NODE=1',
    process.execPath,
    path.join(resources, 'host', 'oklinux-9p-relay.mjs'),
  ];
}

export class Engine {
  readonly ctx: EngineContext;
  private readonly resources: string;
  private readonly opts: EngineOptions;
  /** The engine's parts, each made on first need (see `SERVICES`). */
  private readonly made: { [P in Part]?: Promise<EngineParts[P]> } = {};
  private readonly services = new Map<string, Promise<Partial<Handlers>>>();

  constructor(opts: EngineOptions = {}) {
    this.ctx = openContext(opts);
    this.opts = opts;
    this.resources = opts.resourcesDir ?? defaultResourcesDir();
  }

  /** The app's code: the package (sources, node_modules, bin) and its resources. */
  private get appDirs(): string[] {
    return [packageRoot(), path.join(packageRoot(), 'node_modules'), this.resources];
  }

  /** One part of the engine, loaded and made once. */
  private part<P extends Part>(name: P): Promise<EngineParts[P]> {
    let made = this.made[name] as Promise<EngineParts[P]> | undefined;
    if (!made) {
      made = this.make(name) as Promise<EngineParts[P]>;
      this.made[name] = made as never;
      made.catch(() => delete this.made[name]);
    }
    return made;
  }

  private async make(name: Part): Promise<EngineParts[Part]> {
    const { ctx, resources } = this;
    switch (name) {
      case 'images': {
        const { Images } = await import('@core/images/service');
        const builtin = ctx.env.OKLINUX_DEFAULT_MANIFEST ?? path.join(resources, 'manifests', 'default.json');
        return new Images(ctx, { builtinManifests: [builtin], ...this.opts.images });
      }
      case 'vms': {
        const { VmManager } = await import('@core/vm/manager');
        return new VmManager(ctx, {
          launcher: this.opts.launcher ?? defaultLauncher(),
          appDirs: this.appDirs,
          resolveImage: async (ref, o) => (await this.part('images')).bootImage(ref, o),
          prepareRoot: async (vm, image, shares) =>
            (await import('@core/vm/prepare-root')).rootPreparer(ctx, resources)(vm, image, shares),
          relayClient: relayClientArgv(resources),
        });
      }
      case 'shares': {
        const [{ ShareChanges }, vms] = await Promise.all([import('@core/shares/changes'), this.part('vms')]);
        return new ShareChanges(ctx, vms, this.appDirs);
      }
      case 'ports': {
        const [{ PortChanges }, vms] = await Promise.all([import('@core/vm/port-changes'), this.part('vms')]);
        return new PortChanges(ctx, vms);
      }
    }
  }

  /** A service's handlers: its module and the parts it uses, loaded on its first call. */
  private handlersOf(service: Service): Promise<Partial<Handlers>> {
    let h = this.services.get(service);
    if (!h) {
      const { parts, load } = SERVICES[service];
      h = Promise.all([load(), ...parts.map(async (p) => [p, await this.part(p)] as const)]).then(
        ([factory, ...loaded]) => {
          const given = Object.fromEntries(loaded) as Partial<EngineParts>;
          const view = { ctx: this.ctx } as EngineParts;
          for (const p of ['vms', 'images', 'shares', 'ports'] as const) {
            Object.defineProperty(view, p, {
              get: () => {
                if (p in given) return given[p];
                throw new Error(`engine: the ${service} service uses its "${p}" part, not listed in SERVICES`);
              },
            });
          }
          return this.reportingDiskFull(factory(view));
        },
      );
      this.services.set(service, h);
      h.catch(() => this.services.delete(service));
    }
    return h;
  }

  /** Things people should hear once, found while opening the data directory (see `EngineContext`). */
  get notices(): readonly string[] {
    return this.ctx.notices;
  }

  /** A failure that comes from a full disk says so, naming the data directory, whichever layer hit it. */
  diskFull(e: unknown): unknown {
    return diskFullError(e, this.ctx.paths.root) ?? e;
  }

  private reportingDiskFull(handlers: Partial<Handlers>): Partial<Handlers> {
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
    return wrapped as unknown as Partial<Handlers>;
  }

  /** One contract call from a transport, which says who is calling (see `Caller`). */
  async call(channel: string, payload: unknown, caller: Caller): Promise<Envelope> {
    const service = channel.split(':')[0]!;
    let handlers: Partial<Handlers> = {};
    if (Object.prototype.hasOwnProperty.call(SERVICES, service)) {
      try {
        handlers = await this.handlersOf(service as Service);
      } catch (e) {
        return { error: toErrorPayload(this.diskFull(e)) };
      }
    }
    return dispatch(handlers as Handlers, channel, payload, caller);
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
    const { vms, images } = this.made;
    if (vms) (await vms.catch(() => null))?.close();
    if (images) await (await images.catch(() => null))?.close();
    this.ctx.store.close();
  }
}
