// electron-builder afterPack hook: flip Electron's fuses in the packed binary, after
// packing and before signing, so the shipped app cannot be turned into a plain Node
// runtime or debugged from outside:
//   RunAsNode off                            ELECTRON_RUN_AS_NODE is ignored (VM supervisors are the app
//                                            binary run with --oklinux-supervise instead)
//   EnableNodeOptionsEnvironmentVariable off NODE_OPTIONS / NODE_EXTRA_CA_CERTS are ignored
//   EnableNodeCliInspectArguments off        --inspect and SIGUSR1 do nothing
//   EnableCookieEncryption on                cookies encrypted with the OS keystore
//   OnlyLoadAppFromAsar on                   the app is loaded from app.asar only
//   GrantFileProtocolExtraPrivileges off     the UI is served from oklinux://app, not file://
//   EnableEmbeddedAsarIntegrityValidation    on macOS, where electron-builder records the asar's hash
import path from 'node:path';
import { flipFuses, FuseV1Options, FuseVersion } from '@electron/fuses';

const EXTENSIONS = { darwin: '.app', mas: '.app', win32: '.exe', linux: '' };

/** The packed Electron binary (the .app bundle on macOS) that electron-builder just wrote. */
export function electronBinary(context) {
  const platform = context.electronPlatformName;
  if (!(platform in EXTENSIONS)) throw new Error(`afterPack: unknown platform "${platform}"`);
  const name = platform === 'linux' ? context.packager.executableName : context.packager.appInfo.productFilename;
  return path.join(context.appOutDir, `${name}${EXTENSIONS[platform]}`);
}

export function fuseConfig(platform) {
  const mac = platform === 'darwin' || platform === 'mas';
  return {
    version: FuseVersion.V1,
    resetAdHocDarwinSignature: mac,
    [FuseV1Options.RunAsNode]: false,
    [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
    [FuseV1Options.EnableNodeCliInspectArguments]: false,
    [FuseV1Options.EnableCookieEncryption]: true,
    [FuseV1Options.OnlyLoadAppFromAsar]: true,
    [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
    [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: mac,
  };
}

export default async function afterPack(context) {
  await flipFuses(electronBinary(context), fuseConfig(context.electronPlatformName));
}
