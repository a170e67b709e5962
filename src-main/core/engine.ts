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
import { OkError } from '@contract/errors';
import { dispatch, type Caller, type Handlers } from '@core/dispatch';
import { openContext, type EngineContext } from '@core/context';
import { diskFullError } from '@core/datadir';
import { Images, type ImagesOptions } from '@core/images/service';
import { ShareChanges } from '@core/shares/changes';
import { VmManager, type SupervisorLauncher } from '@core/vm/manager';
import { PortChanges } from '@core/vm/port-changes';
import { rootPreparer } from '@core/vm/prepare-root';
import type { EngineParts } from '@core/services/parts';
import { systemHandlers } from '@core/services/system';
import { settingsHandlers } from '@core/services/settings';
import { catalogHandlers } from '@core/services/catalog';
import { imageHandlers } from '@core/services/images';
import { vmmHandlers } from '@core/services/vmm';
import { downloadHandlers } from '@core/services/downloads';
import { vmHandlers } from '@core/services/vms';
import { consoleHandlers } from '@core/services/console';
import { shareHandlers } from '@core/services/shares';
import { portHandlers } from '@core/services/ports';
import { fsHandlers } from '@core/services/fs';

export { DEFAULT_IMAGE, DEFAULT_VM } from '@core/vm/create';

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
    args: [fileURLToPath(new URL('../../bin/oklinux.mjs', import.meta.url)), '__supervise'],
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
    // the app's code: the package (sources, node_modules, bin) and its resources
    const appDirs = [packageRoot(), path.join(packageRoot(), 'node_modules'), resources];
    this.vms = new VmManager(this.ctx, {
      launcher: opts.launcher ?? defaultLauncher(),
      appDirs,
      resolveImage: (ref, o) => this.images.bootImage(ref, o),
      prepareRoot: rootPreparer(this.ctx, resources),
      relayClient: relayClientArgv(resources),
    });
    const parts: EngineParts = {
      ctx: this.ctx,
      vms: this.vms,
      images: this.images,
      shares: new ShareChanges(this.ctx, this.vms, appDirs),
      ports: new PortChanges(this.ctx, this.vms),
    };
    this.handlers = this.reportingDiskFull({
      ...systemHandlers(parts),
      ...settingsHandlers(parts),
      ...catalogHandlers(parts),
      ...imageHandlers(parts),
      ...vmmHandlers(parts),
      ...downloadHandlers(parts),
      ...vmHandlers(parts),
      ...consoleHandlers(parts),
      ...shareHandlers(parts),
      ...portHandlers(parts),
      ...fsHandlers(),
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
