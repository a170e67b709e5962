/**
 * The API a front end sees, written by hand so it reads as documentation:
 * `api.vms.start({ name })`. Each method is one contract channel; the type test
 * in test/contract checks that the two cover each other exactly.
 */
import type { AppEvent } from './schemas';
import type { Channel, Input, Output } from './channels';

type Op<C extends Channel> = (input: Input<C>) => Promise<Output<C>>;

export type Unsubscribe = () => void;

export interface OkLinuxApi {
  system: { doctor: Op<'system:doctor'>; info: Op<'system:info'>; resolve: Op<'system:resolve'> };
  settings: { get: Op<'settings:get'>; set: Op<'settings:set'> };
  catalog: {
    list: Op<'catalog:list'>;
    sources: Op<'catalog:sources'>;
    add: Op<'catalog:add'>;
    remove: Op<'catalog:remove'>;
  };
  images: {
    list: Op<'images:list'>;
    pull: Op<'images:pull'>;
    remove: Op<'images:remove'>;
    verify: Op<'images:verify'>;
    import: Op<'images:import'>;
  };
  vmm: { install: Op<'vmm:install'> };
  downloads: { list: Op<'downloads:list'>; cancel: Op<'downloads:cancel'> };
  vms: {
    list: Op<'vms:list'>;
    get: Op<'vms:get'>;
    create: Op<'vms:create'>;
    launch: Op<'vms:launch'>;
    start: Op<'vms:start'>;
    stop: Op<'vms:stop'>;
    remove: Op<'vms:remove'>;
    logs: Op<'vms:logs'>;
    toDisk: Op<'vms:toDisk'>;
    plan: Op<'vms:plan'>;
  };
  console: {
    attach: Op<'console:attach'>;
    detach: Op<'console:detach'>;
    write: Op<'console:write'>;
    resize: Op<'console:resize'>;
  };
  shares: {
    list: Op<'shares:list'>;
    add: Op<'shares:add'>;
    addRemote: Op<'shares:addRemote'>;
    update: Op<'shares:update'>;
    remove: Op<'shares:remove'>;
    fstab: Op<'shares:fstab'>;
  };
  ports: {
    list: Op<'ports:list'>;
    add: Op<'ports:add'>;
    remove: Op<'ports:remove'>;
  };
  fs: { list: Op<'fs:list'> };
  /** Subscribe to the engine's event stream (download progress, VM state, console data). */
  onEvent(listener: (event: AppEvent) => void): Unsubscribe;
}

/** What the Electron preload adds beyond the contract: host paths of dropped files. */
export interface PreloadExtras {
  pathForFile(file: File): string;
  /** Opens the native folder picker (Electron only). */
  pickFolders(): Promise<string[]>;
}

declare global {
  interface Window {
    /** Present in Electron (preload); absent in a browser, where the WebSocket bridge is used. */
    oklinux?: OkLinuxApi & PreloadExtras;
  }
}
