/**
 * The main window's bounds, remembered between runs in a JSON file in the
 * userData directory (written to a temporary file and renamed, so a crash never
 * leaves half a file). Saved bounds that no longer fit on any display are
 * dropped in favour of a centred window.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Rectangle } from 'electron';
import { z } from 'zod';

const WindowState = z.object({
  x: z.number().int().optional(),
  y: z.number().int().optional(),
  width: z.number().int().min(400).max(20_000),
  height: z.number().int().min(300).max(20_000),
  maximized: z.boolean(),
});
export type WindowState = z.infer<typeof WindowState>;

export const DEFAULT_WINDOW_STATE: WindowState = { width: 1200, height: 800, maximized: false };
export const WINDOW_STATE_FILE = 'window-state.json';

/** At least this much of the window must overlap a display's work area. */
const MIN_VISIBLE = 64;

function visible(state: WindowState, workAreas: Rectangle[]): boolean {
  if (state.x === undefined || state.y === undefined) return true;
  const { x, y, width, height } = state as Required<WindowState>;
  return workAreas.some(
    (a) =>
      Math.min(x + width, a.x + a.width) - Math.max(x, a.x) >= MIN_VISIBLE &&
      Math.min(y + height, a.y + a.height) - Math.max(y, a.y) >= MIN_VISIBLE,
  );
}

export function loadWindowState(file: string, workAreas: Rectangle[]): WindowState {
  let parsed: WindowState;
  try {
    parsed = WindowState.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return DEFAULT_WINDOW_STATE;
  }
  if (visible(parsed, workAreas)) return parsed;
  return { width: parsed.width, height: parsed.height, maximized: parsed.maximized };
}

/** Best effort (the bounds are a convenience): false when the file could not be written. */
export function saveWindowState(file: string, state: WindowState): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(state) + '\n');
    fs.renameSync(tmp, file);
    return true;
  } catch {
    fs.rm(tmp, { force: true }, () => undefined);
    return false;
  }
}

/** The state to remember for a window: its normal (unmaximized) bounds and whether it is maximized. */
export function windowStateOf(win: { isMaximized(): boolean; getNormalBounds(): Rectangle }): WindowState {
  const { x, y, width, height } = win.getNormalBounds();
  return { x, y, width, height, maximized: win.isMaximized() };
}
