/** The application menu: the standard roles (so copy and paste work in the console), plus okLinux's own items. */
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  isMac: boolean;
  /** Developer tools only in development builds. */
  devTools: boolean;
  openDataFolder(): void;
  openProjectPage(): void;
}

export const PROJECT_PAGE = 'https://github.com/sevki/okLinux';

export function menuTemplate(a: MenuActions): MenuItemConstructorOptions[] {
  const view: MenuItemConstructorOptions[] = [
    { role: 'reload' },
    ...(a.devTools ? [{ role: 'toggleDevTools' } as const] : []),
    { type: 'separator' },
    { role: 'resetZoom' },
    { role: 'zoomIn' },
    { role: 'zoomOut' },
    { type: 'separator' },
    { role: 'togglefullscreen' },
  ];
  return [
    ...(a.isMac ? [{ role: 'appMenu' } as const] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Open Data Folder', click: () => a.openDataFolder() },
        { type: 'separator' },
        a.isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    { label: 'View', submenu: view },
    { role: 'windowMenu' },
    { role: 'help', submenu: [{ label: 'okLinux on GitHub', click: () => a.openProjectPage() }] },
  ];
}
