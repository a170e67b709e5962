// `npm start`: launch the desktop app in Electron. Electron's binary is fetched
// on first use; where it cannot be obtained (no network to its release host),
// say so in one sentence and name the alternative, then exit non-zero.
import { spawnSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));

function electronBinary() {
  try {
    return require('electron'); // the path of the binary, once installed
  } catch {
    return null;
  }
}

let bin = electronBinary();
if (!bin) {
  const install = spawnSync(process.execPath, [require.resolve('electron/install.js')], {
    stdio: 'ignore',
    timeout: 120_000,
  });
  bin = install.status === 0 ? electronBinary() : null;
}
if (!bin) {
  console.error(
    'okLinux Desktop cannot start: the Electron binary could not be downloaded on this machine; ' +
      'run the same app in your browser instead with "npm run serve" (or use the "npx oklinux" CLI).',
  );
  process.exit(1);
}

const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const child = spawn(bin, ['.'], { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
