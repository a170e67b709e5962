import type { FuseV1Config } from '@electron/fuses';

/** The part of electron-builder's AfterPackContext the hook reads. */
export interface PackContext {
  appOutDir: string;
  electronPlatformName: string;
  packager: { appInfo: { productFilename: string }; executableName?: string };
}

export function electronBinary(context: PackContext): string;
export function fuseConfig(platform: string): FuseV1Config;
export default function afterPack(context: PackContext): Promise<void>;
