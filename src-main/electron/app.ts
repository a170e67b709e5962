/**
 * The desktop app: one window over the engine. This wires the pieces together:
 * the app:// scheme, the locked-down session and contents, IPC, events queued
 * until the page is ready, the progress bar and notifications, the menu,
 * remembered bounds, the single-instance lock and the quit question.
 *
 * This folder (electron/) is the desktop app: the Electron main process (window, IPC built from the
 * contract's CHANNELS, menu, quit) and the preload, which imports only the contract and its channel
 * names. It is the only folder that imports electron.
 */
import path from 'node:path';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  Notification,
  protocol,
  screen,
  session,
  shell,
  type OpenDialogOptions,
} from 'electron';
import { EVENT_CHANNEL } from '@contract';
import { Engine } from '@core/engine';
import { createAttention } from './attention';
import { loadWindowState, saveWindowState, windowStateOf, WINDOW_STATE_FILE } from './bounds';
import { APP_URL } from './channels';
import { EventPump } from './events';
import { registerIpc } from './ipc';
import { menuTemplate, PROJECT_PAGE } from './menu';
import { registerAppScheme, serveApp } from './protocol';
import { createQuitHandler, quitQuestion, type QuitChoice } from './quit';
import { hardenContents, lockDownSession } from './security';
import { electronLauncher } from './supervise';
import { createMainWindow } from './window';

export interface AppPaths {
  /** The built renderer (dist/renderer). */
  rendererDir: string;
  /** The sandboxed preload bundle (CommonJS). */
  preload: string;
}

const PICK_FOLDERS: OpenDialogOptions = {
  title: 'Share folders with the VM',
  buttonLabel: 'Share',
  properties: ['openDirectory', 'multiSelections', 'createDirectory'],
};

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Start the app; resolves once the first window is opening (or at once when another instance owns the lock). */
export async function startApp(paths: AppPaths): Promise<void> {
  registerAppScheme(protocol);
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  let win: BrowserWindow | null = null;
  let pump: EventPump | null = null;
  const focus = (): void => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  };
  app.on('second-instance', focus);
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, shell));
  await app.whenReady();

  let engine: Engine;
  try {
    engine = new Engine({
      launcher: electronLauncher(app),
      // packaged: extraResources (electron-builder.yml); in development the repo's resources/
      resourcesDir: app.isPackaged ? process.resourcesPath : path.join(app.getAppPath(), 'resources'),
    });
  } catch (e) {
    dialog.showErrorBox('okLinux Desktop cannot start', message(e));
    app.exit(1);
    return;
  }
  serveApp(protocol, paths.rendererDir);
  lockDownSession(session.defaultSession);
  const stateFile = path.join(app.getPath('userData'), WINDOW_STATE_FILE);

  Menu.setApplicationMenu(
    Menu.buildFromTemplate(
      menuTemplate({
        isMac: process.platform === 'darwin',
        devTools: !app.isPackaged,
        openDataFolder: () => void shell.openPath(engine.ctx.paths.root),
        openProjectPage: () => void shell.openExternal(PROJECT_PAGE),
      }),
    ),
  );

  registerIpc({
    ipcMain,
    engine,
    async pickFolders(sender) {
      const owner = BrowserWindow.fromWebContents(sender);
      const r = owner ? await dialog.showOpenDialog(owner, PICK_FOLDERS) : await dialog.showOpenDialog(PICK_FOLDERS);
      return r.canceled ? [] : r.filePaths;
    },
  });

  const attention = createAttention(
    {
      setProgress: (value) => win?.setProgressBar(value),
      notify(title, body) {
        if (!Notification.isSupported()) return;
        const n = new Notification({ title, body });
        n.on('click', focus);
        n.show();
      },
    },
    await engine.invoke('vms:list', {}),
  );
  engine.onEvent((event) => {
    pump?.push(event);
    attention(event);
  });

  const openWindow = (): void => {
    const w = createMainWindow({
      preload: paths.preload,
      state: loadWindowState(
        stateFile,
        screen.getAllDisplays().map((d) => d.workArea),
      ),
      stateFile,
    });
    const contents = w.webContents;
    const p = new EventPump((event) => {
      if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, event);
    });
    contents.on('did-start-navigation', (details) => {
      if (details.isMainFrame && !details.isSameDocument) p.pause();
    });
    contents.on('did-finish-load', () => p.open());
    w.on('closed', () => {
      if (win === w) [win, pump] = [null, null];
    });
    [win, pump] = [w, p];
    w.loadURL(APP_URL).catch((e: unknown) =>
      dialog.showErrorBox('okLinux Desktop', `The window could not load: ${message(e)}`),
    );
  };

  app.on('activate', () => {
    if (!win) openWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on(
    'before-quit',
    createQuitHandler({
      runningVms: async () =>
        (await engine.invoke('vms:list', {}))
          .filter((vm) => vm.state === 'running' || vm.state === 'starting')
          .map((vm) => vm.name),
      async ask(names): Promise<QuitChoice> {
        const options = {
          type: 'question' as const,
          buttons: ['Stop Them and Quit', 'Leave Them Running', 'Cancel'],
          defaultId: 1,
          cancelId: 2,
          noLink: true,
          ...quitQuestion(names),
        };
        const { response } = win ? await dialog.showMessageBox(win, options) : await dialog.showMessageBox(options);
        return (['stop', 'leave', 'cancel'] as const)[response] ?? 'cancel';
      },
      stopVm: async (name) => void (await engine.invoke('vms:stop', { name })),
      async beforeExit() {
        if (win && !win.isDestroyed()) saveWindowState(stateFile, windowStateOf(win));
        await engine.close();
      },
      exit: (code) => app.exit(code),
      report: (text) => dialog.showErrorBox('okLinux Desktop', text),
    }),
  );
  openWindow();
}
