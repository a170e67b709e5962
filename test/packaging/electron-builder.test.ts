/**
 * The packaging configuration, checked without building (Electron cannot be
 * downloaded here): electron-builder's own loader and schema read
 * electron-builder.yml, and the afterPack hook runs against a mocked
 * @electron/fuses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import type { Configuration } from 'app-builder-lib';
import { DebugLogger } from 'builder-util';
import { minimatch } from 'minimatch';
import { FuseV1Options, flipFuses } from '@electron/fuses';
import { REPO } from '../helpers/cli';

vi.mock(import('@electron/fuses'), async (importOriginal) => ({
  ...(await importOriginal()),
  flipFuses: vi.fn(() => Promise.resolve(0)),
}));

let config: Configuration;
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { main: string };

beforeAll(async () => {
  config = await getConfig(REPO, null, null);
  await validateConfiguration(config, new DebugLogger(false));
});

const targets = (t: unknown): string[] =>
  (Array.isArray(t) ? t : [t]).map((x) => (typeof x === 'string' ? x : (x as { target: string }).target));

function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  expect(b.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(b.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('electron-builder.yml', () => {
  it("is valid by electron-builder's own schema, with an app id and a product name", () => {
    expect(config.appId).toBe('dev.oklinux.desktop');
    expect(config.productName).toBe('okLinux');
  });

  it('pins the installed Electron version', () => {
    const electron = JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules/electron/package.json'), 'utf8')) as {
      version: string;
    };
    expect(config.electronVersion).toBe(electron.version);
  });

  it('builds AppImage and deb for Linux, dmg for macOS, nsis for Windows', () => {
    expect(targets(config.linux?.target).sort()).toEqual(['AppImage', 'deb']);
    expect(targets(config.mac?.target)).toEqual(['dmg']);
    expect(targets(config.win?.target)).toEqual(['nsis']);
  });

  it('packs the built app and unpacks the native modules from the asar', () => {
    // electron-builder's loader normalises `files` to [{ filter: [...] }].
    const files = (config.files as (string | { filter: string[] })[]).flatMap((f) =>
      typeof f === 'string' ? [f] : f.filter,
    );
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/main/**', 'dist/renderer/**']));
    expect(minimatch(pkg.main, 'dist/main/**')).toBe(true);
    const unpack = config.asarUnpack as string[];
    const unpacked = (p: string) => unpack.some((g) => minimatch(p, g, { dot: true }));
    expect(unpacked('node_modules/better-sqlite3/build/Release/better_sqlite3.node')).toBe(true);
    expect(unpacked('node_modules/node-pty/build/Release/pty.node')).toBe(true);
    expect(unpacked('node_modules/node-pty/build/Release/spawn-helper')).toBe(true);
    expect(unpacked('node_modules/@matrixai/quic-linux-x64/node.napi.node')).toBe(true);
    expect(unpacked('node_modules/zod/index.js')).toBe(false);
    expect(unpacked('dist/main/electron/main.js')).toBe(false);
  });

  it('ships the guest init and the default catalog where the engine reads them (process.resourcesPath)', () => {
    const extra = JSON.stringify(config.extraResources);
    expect(extra).toContain('resources/guest');
    expect(extra).toContain('resources/manifests');
    expect(fs.existsSync('resources/guest/oklinux-init')).toBe(true);
    expect(fs.existsSync('resources/manifests/default.json')).toBe(true);
  });

  it("rebuilds native modules from source for Electron's ABI", () => {
    expect(config.npmRebuild).toBe(true);
    expect(config.buildDependenciesFromSource).toBe(true);
  });

  it('has icons in resources/icons: a 512x512 PNG for every platform', () => {
    const linuxDir = path.join(REPO, config.linux!.icon!);
    const sized = fs.readdirSync(linuxDir).filter((f) => /^\d+x\d+\.png$/.test(f));
    expect(sized).toContain('512x512.png');
    for (const f of sized) {
      const [w, h] = f.replace('.png', '').split('x').map(Number);
      expect(pngSize(path.join(linuxDir, f))).toEqual({ width: w, height: h });
    }
    for (const icon of [config.mac!.icon!, config.win!.icon!]) {
      expect(icon.startsWith('resources/icons/')).toBe(true);
      expect(pngSize(path.join(REPO, icon))).toEqual({ width: 512, height: 512 });
    }
  });
});

describe('the afterPack hook', () => {
  const hookPath = () => path.join(REPO, config.afterPack as string);

  it('exists where the config says', () => {
    expect(config.afterPack).toBe('./build/after-pack.mjs');
    expect(fs.existsSync(hookPath())).toBe(true);
  });

  it('flips RunAsNode, NODE_OPTIONS and inspect off in the packed binary of each platform', async () => {
    const { default: afterPack } = await import('../../build/after-pack.mjs');
    const packager = { appInfo: { productFilename: 'okLinux' }, executableName: 'oklinux-desktop' };
    const cases = [
      ['linux', '/out/linux-unpacked', '/out/linux-unpacked/oklinux-desktop'],
      ['darwin', '/out/mac-arm64', '/out/mac-arm64/okLinux.app'],
      ['win32', '/out/win-unpacked', '/out/win-unpacked/okLinux.exe'],
    ] as const;
    for (const [platform, appOutDir, binary] of cases) {
      vi.mocked(flipFuses).mockClear();
      await afterPack({ appOutDir, electronPlatformName: platform, packager });
      expect(flipFuses).toHaveBeenCalledTimes(1);
      const [target, fuses] = vi.mocked(flipFuses).mock.calls[0]!;
      expect(target).toBe(binary);
      expect(fuses).toMatchObject({
        version: '1',
        [FuseV1Options.RunAsNode]: false,
        [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
        [FuseV1Options.EnableNodeCliInspectArguments]: false,
        [FuseV1Options.EnableCookieEncryption]: true,
        [FuseV1Options.OnlyLoadAppFromAsar]: true,
        [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
        [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: platform === 'darwin',
      });
    }
  });

  it('refuses a platform it does not know rather than flipping the wrong file', async () => {
    const { default: afterPack } = await import('../../build/after-pack.mjs');
    const packager = { appInfo: { productFilename: 'okLinux' } };
    await expect(afterPack({ appOutDir: '/out', electronPlatformName: 'freebsd', packager })).rejects.toThrow(
      /unknown platform "freebsd"/,
    );
  });
});
