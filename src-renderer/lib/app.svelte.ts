/**
 * The app's shared, reactive view of the engine: VMs, catalog, installed images
 * and downloads, kept current from the event stream and reloaded after every
 * (re)connection. Console output does not pass through here (see Console.svelte).
 * Warnings (events, and the engine's notices at each connection) go to `warnings`.
 */
import { getContext, setContext } from 'svelte';
import type { AppEvent, CatalogEntry, CatalogListing, DownloadProgress, Image, Unsubscribe, Vm } from '@contract';
import { errorMessage, type Bridge, type ConnectionState } from './bridge';
import { Warnings } from './warnings.svelte';

export interface PullState {
  status: 'running' | 'failed' | 'cancelled';
  error: string | null;
}

const isCancel = (e: unknown): boolean => (e as { code?: string } | null)?.code === 'CANCELLED';

export class AppState {
  connection = $state<ConnectionState>({ status: 'connecting' });
  /** Counts connections; components keyed on it start over after a reconnect. */
  epoch = $state(0);
  vms = $state<Vm[]>([]);
  vmsLoaded = $state(false);
  vmsError = $state<string | null>(null);
  catalog = $state<CatalogListing | null>(null);
  catalogLoading = $state(false);
  catalogError = $state<string | null>(null);
  images = $state<Image[]>([]);
  downloads = $state<Record<string, DownloadProgress>>({});
  pulls = $state<Record<string, PullState>>({});
  launching = $state(false);
  launchError = $state<string | null>(null);
  readonly warnings = new Warnings();

  constructor(readonly bridge: Bridge) {}

  get api() {
    return this.bridge.api;
  }

  /** Downloads that are queued or running, oldest first. */
  get activeDownloads(): DownloadProgress[] {
    return Object.values(this.downloads).filter((d) => d.state === 'running' || d.state === 'queued');
  }

  start(): Unsubscribe {
    const offEvents = this.api.onEvent((e) => this.onEvent(e));
    const onState = (s: ConnectionState): void => {
      const wasOpen = this.connection.status === 'open';
      this.connection = s;
      if (s.status === 'open' && !wasOpen) {
        this.epoch++;
        void this.loadAll();
      }
    };
    const offState = this.bridge.connection.onState(onState);
    onState(this.bridge.connection.state());
    return () => {
      offEvents();
      offState();
    };
  }

  async loadAll(): Promise<void> {
    await Promise.all([
      this.refreshVms(),
      this.refreshImages(),
      this.refreshDownloads(),
      this.refreshCatalog(false),
      this.refreshNotices(),
    ]);
  }

  /** The engine's standing warnings (running as root, permissions it tightened), into the banner. */
  async refreshNotices(): Promise<void> {
    try {
      this.warnings.notice((await this.api.system.doctor({})).warnings);
    } catch {
      // Settings shows the system check and its errors
    }
  }

  async refreshVms(): Promise<void> {
    try {
      this.vms = await this.api.vms.list({});
      for (const vm of this.vms) this.warnings.vmChanged(vm);
      this.vmsError = null;
    } catch (e) {
      this.vmsError = errorMessage(e);
    } finally {
      this.vmsLoaded = true;
    }
  }

  async refreshImages(): Promise<void> {
    try {
      this.images = await this.api.images.list({});
    } catch {
      // the catalog view reports errors; installed state also comes from the catalog
    }
  }

  async refreshDownloads(): Promise<void> {
    try {
      const list = await this.api.downloads.list({});
      this.downloads = Object.fromEntries(list.map((d) => [d.id, d]));
    } catch {
      // live progress still arrives as events
    }
  }

  async refreshCatalog(refresh: boolean): Promise<void> {
    this.catalogLoading = true;
    try {
      this.catalog = await this.api.catalog.list({ refresh });
      this.catalogError = null;
    } catch (e) {
      this.catalogError = errorMessage(e);
    } finally {
      this.catalogLoading = false;
    }
  }

  onEvent(e: AppEvent): void {
    switch (e.type) {
      case 'vm:state':
        this.upsertVm(e.vm);
        break;
      case 'download:progress':
        this.downloads[e.download.id] = e.download;
        break;
      case 'catalog:changed':
        void this.refreshCatalog(false);
        void this.refreshImages();
        break;
      case 'warning':
        this.warnings.add(e.vm, e.message, e.vm ? (this.vms.find((v) => v.name === e.vm)?.startedAt ?? null) : null);
        break;
      case 'console:data':
        break;
    }
  }

  upsertVm(vm: Vm): void {
    this.warnings.vmChanged(vm);
    const i = this.vms.findIndex((v) => v.name === vm.name);
    if (i === -1) this.vms.push(vm);
    else this.vms[i] = vm;
  }

  /** The download of one of the entry's artifacts: a running one first, else the latest failed one. */
  downloadFor(entry: CatalogEntry): DownloadProgress | null {
    const urls = entry.artifacts.map((a) => a.url);
    const mine = Object.values(this.downloads).filter((d) => urls.includes(d.url));
    return (
      mine.find((d) => d.state === 'running' || d.state === 'queued') ??
      mine.findLast((d) => d.state === 'failed' || d.state === 'cancelled') ??
      null
    );
  }

  /** Install an image (`images:pull`); failures are kept in `pulls` for the Retry button. */
  async pull(ref: string): Promise<void> {
    this.pulls[ref] = { status: 'running', error: null };
    try {
      await this.api.images.pull({ ref });
      delete this.pulls[ref];
      await Promise.all([this.refreshCatalog(false), this.refreshImages()]);
    } catch (e) {
      this.pulls[ref] = isCancel(e)
        ? { status: 'cancelled', error: null }
        : { status: 'failed', error: errorMessage(e) };
    }
  }

  /** Cancel a download; resolves to the error message, or null when it worked. */
  async cancelDownload(id: string): Promise<string | null> {
    try {
      await this.api.downloads.cancel({ id });
      return null;
    } catch (e) {
      return errorMessage(e);
    }
  }

  /** The one-click path: create the default VM if needed, download its image, start it. */
  async launch(): Promise<Vm | null> {
    this.launching = true;
    this.launchError = null;
    try {
      const vm = await this.api.vms.launch({});
      this.upsertVm(vm);
      return vm;
    } catch (e) {
      this.launchError = errorMessage(e);
      return null;
    } finally {
      this.launching = false;
    }
  }

  async startVm(name: string): Promise<void> {
    this.upsertVm(await this.api.vms.start({ name }));
  }

  async stopVm(name: string, force = false): Promise<void> {
    this.upsertVm(await this.api.vms.stop({ name, force }));
  }

  /** Stop, then start: how share changes made while running take effect. */
  async restartVm(name: string): Promise<void> {
    await this.stopVm(name);
    await this.startVm(name);
  }

  async removeVm(name: string, keepRoot: boolean): Promise<void> {
    await this.api.vms.remove({ name, keepRoot });
    this.vms = this.vms.filter((v) => v.name !== name);
    this.warnings.forget(name);
  }
}

const KEY = Symbol('oklinux.app');

export function provideApp(app: AppState): void {
  setContext(KEY, app);
}

export function useApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('useApp() outside the app: provideApp() was not called');
  return app;
}
