/** The main window: locked-down webPreferences, remembered bounds, shown once it has painted. */
import { BrowserWindow, nativeTheme } from 'electron';
import { saveWindowState, windowStateOf, type WindowState } from './bounds';
import { secureWebPreferences } from './security';

export interface MainWindowOptions {
  preload: string;
  state: WindowState;
  /** Where the bounds are saved when the window closes. */
  stateFile: string;
}

export function createMainWindow({ preload, state, stateFile }: MainWindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    ...(state.x !== undefined && state.y !== undefined ? { x: state.x, y: state.y } : {}),
    width: state.width,
    height: state.height,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'okLinux',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#111418' : '#ffffff',
    webPreferences: secureWebPreferences(preload),
  });
  if (state.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  win.on('close', () => saveWindowState(stateFile, windowStateOf(win)));
  return win;
}
