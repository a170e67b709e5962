/**
 * The Settings form: text fields for the nullable settings (empty means none),
 * and the patch a save sends, which holds only what the user changed. A browser
 * page never sends a program setting (`PROGRAM_SETTINGS`, e.g. bldyPath): the
 * engine refuses those from the browser, so the field is read-only there.
 */
import type { Settings } from '@contract';

export interface SettingsForm {
  backend: Settings['backend'];
  accel: Settings['accel'];
  bldyPath: string;
  githubApi: string;
  proxy: string;
}

export function formFromSettings(s: Settings): SettingsForm {
  return { ...s, bldyPath: s.bldyPath ?? '', proxy: s.proxy ?? '' };
}

/** The settings the form asks for, minus those equal to `saved`. */
export function settingsPatch(saved: Settings, form: SettingsForm): Partial<Settings> {
  const wanted: Settings = {
    backend: form.backend,
    accel: form.accel,
    bldyPath: form.bldyPath.trim() || null,
    githubApi: form.githubApi.trim(),
    proxy: form.proxy.trim() || null,
  };
  const patch: Partial<Settings> = {};
  for (const key of Object.keys(wanted) as (keyof Settings)[]) {
    if (wanted[key] !== saved[key]) Object.assign(patch, { [key]: wanted[key] });
  }
  return patch;
}
