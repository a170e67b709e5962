import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OkError } from '@contract/errors';
import { needArgs, withLocalEngine, type Command } from '../framework';
import { launchDir, openBrowser, writeLaunchPage, type LaunchPage } from '../../host/launch';

/** The package's built renderer: <package root>/dist/renderer, from the sources or the built CLI. */
function defaultUiDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'renderer');
}

function parsePort(value: string | boolean | string[] | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || port > 65535) {
    throw new OkError(
      'INVALID_INPUT',
      `--port must be a number from 0 to 65535 (0: any free port), not "${String(value)}".`,
    );
  }
  return port;
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(sig);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export const serveCommand: Command = {
  name: 'serve',
  usage: 'serve [--port N] [--no-open] [--ui DIR]',
  summary: 'Serve the desktop UI to a browser on this machine (127.0.0.1, with a token).',
  description:
    'Prints a URL with a random token (like Jupyter) and runs until Ctrl+C. Only 127.0.0.1 is served, and the\n' +
    "WebSocket needs the token and the page's own Origin. The browser is opened on a private page in the data\n" +
    'directory (run/serve/, readable only by you) that leads to that URL, so the token never appears on any\n' +
    'command line. $OKLINUX_BROWSER names the program to open it with (given the file:// URL as its one\n' +
    'argument); otherwise xdg-open, open or start. --ui names a built renderer (default: dist/renderer).',
  options: { port: { type: 'string' }, 'no-open': { type: 'boolean' }, ui: { type: 'string' } },
  async run(io, { positionals, values }) {
    needArgs(positionals, 0, this.usage);
    const port = parsePort(values.port);
    const staticDir = typeof values.ui === 'string' ? path.resolve(values.ui) : defaultUiDir();
    await withLocalEngine(io, async (engine) => {
      const host = await (await import('../../host/server')).startHost({ engine, staticDir, port });
      let page: LaunchPage | null = null;
      try {
        const { dataDir } = await engine.invoke('system:info', {});
        page = await writeLaunchPage(launchDir(dataDir), host.url, host.port);
        const { url: pageUrl } = page;
        io.print({ url: host.url, port: host.port, page: pageUrl }, () =>
          [
            'okLinux Desktop is running in your browser at:',
            '',
            `    ${host.url}`,
            '',
            'Open that URL on this machine (it carries the access token), or open this private page, which leads',
            `there: ${pageUrl}`,
            'Press Ctrl+C to stop.',
          ].join('\n'),
        );
        if (!values['no-open']) openBrowser(pageUrl);
        await untilSignal();
      } finally {
        page?.remove();
        await host.close();
      }
    });
  },
};
