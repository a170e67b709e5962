import path from 'node:path';
import { formatBytes } from '@contract/format';
import { needArgs, table, withEngine, type Command } from '../framework';
import { withProgress } from '../progress';

export const imageCommands: Command[] = [
  {
    name: 'images',
    usage: 'images [--refresh]',
    summary: 'List the images available (okLinux releases, catalog bundles) and the installed ones (imports too).',
    options: { refresh: { type: 'boolean' } },
    async run(io, { positionals, values }) {
      needArgs(positionals, 0, this.usage);
      const { entries, warnings, installed } = await withEngine(io, async (e) => ({
        ...(await e.invoke('catalog:list', { refresh: values.refresh === true })),
        installed: await e.invoke('images:list', {}),
      }));
      if (!io.json) for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
      // Installed images the catalog does not offer (local imports, bundles of removed manifests).
      const others = installed.filter((img) => !entries.some((e) => e.ref === img.ref));
      io.print({ entries, warnings, installed }, () =>
        entries.length || others.length
          ? table(
              ['REF', 'KIND', 'VERSION', 'SIZE', 'PUBLISHED', 'INSTALLED'],
              [
                ...entries.map((e) => [
                  e.ref,
                  e.kind,
                  e.version,
                  e.size === null ? null : formatBytes(e.size),
                  e.publishedAt?.slice(0, 10) ?? null,
                  e.installed ? 'yes' : e.installable ? 'no' : `no (${e.problem})`,
                ]),
                ...others.map((img) => [img.ref, img.kind, img.version, formatBytes(img.size), null, 'yes']),
              ],
            )
          : 'No images: the catalog is empty. Add a manifest with "oklinux catalog add URL|PATH".',
      );
    },
  },
  {
    name: 'pull',
    usage: 'pull <release-tag|bundle-name|latest|bldy>',
    summary: 'Download, verify and install an image (resumes an interrupted download). "bldy" installs the VMM.',
    async run(io, { positionals }) {
      needArgs(positionals, 1, this.usage);
      const ref = positionals[0]!;
      await withEngine(io, async (e) => {
        if (ref === 'bldy') {
          const { path: p } = await withProgress(io, e, () => e.invoke('vmm:install', {}));
          io.print({ installed: 'bldy', path: p }, () => `Installed bldy at ${p}.`);
          return;
        }
        const img = await withProgress(io, e, () => e.invoke('images:pull', { ref }));
        io.print({ event: 'installed', image: img }, () => `Installed ${img.ref} (${formatBytes(img.size)}).`);
      });
    },
  },
  {
    name: 'import',
    usage: 'import <file> [--name NAME]',
    summary: 'Import a local kernel (bzImage), a tarball holding arch/x86/boot/bzImage, or a manifest.',
    options: { name: { type: 'string' } },
    async run(io, { positionals, values }) {
      needArgs(positionals, 1, this.usage);
      const file = path.resolve(positionals[0]!);
      if (file.endsWith('.json')) {
        const src = await withEngine(io, (e) => e.invoke('catalog:add', { location: file }));
        io.print(src, () => `Added the manifest ${src.location} as catalog source ${src.id}; pull one of its bundles.`);
        return;
      }
      const img = await withEngine(io, (e) =>
        e.invoke('images:import', { path: file, name: values.name as string | undefined }),
      );
      io.print(img, () => `Imported ${img.ref} (${formatBytes(img.size)}).`);
    },
  },
  {
    name: 'verify',
    usage: 'verify',
    summary: 'Rehash every installed artifact and report any that are damaged.',
    async run(io, { positionals }) {
      needArgs(positionals, 0, this.usage);
      const results = await withEngine(io, (e) => e.invoke('images:verify', {}));
      const bad = results.filter((r) => !r.ok);
      io.print(results, () =>
        [
          ...results.map(
            (r) =>
              `${r.ok ? 'ok     ' : 'DAMAGED'} ${r.sha256.slice(0, 16)}… ${r.path}${r.problem ? `: ${r.problem}` : ''}`,
          ),
          `${results.length - bad.length} ok, ${bad.length} damaged`,
        ].join('\n'),
      );
      return bad.length ? 6 : 0;
    },
  },
  {
    name: 'catalog',
    usage: 'catalog <add|ls|rm> …',
    summary: 'Manage catalog sources (manifests). okLinux releases are always included.',
    sub: [
      {
        name: 'add',
        usage: 'add <URL|PATH>',
        summary: 'Add a manifest (schema 1) from a URL or a file.',
        async run(io, { positionals }) {
          needArgs(positionals, 1, `catalog ${this.usage}`);
          const src = await withEngine(io, (e) => e.invoke('catalog:add', { location: positionals[0]! }));
          io.print(src, () => `Added catalog source ${src.id}: ${src.location}`);
        },
      },
      {
        name: 'ls',
        usage: 'ls',
        summary: 'List catalog sources.',
        async run(io, { positionals }) {
          needArgs(positionals, 0, `catalog ${this.usage}`);
          const list = await withEngine(io, (e) => e.invoke('catalog:sources', {}));
          io.print(list, () =>
            table(
              ['ID', 'KIND', 'LOCATION'],
              list.map((s) => [s.id, s.kind, s.location]),
            ),
          );
        },
      },
      {
        name: 'rm',
        usage: 'rm <id>',
        summary: 'Remove a catalog source.',
        async run(io, { positionals }) {
          needArgs(positionals, 1, `catalog ${this.usage}`);
          await withEngine(io, (e) => e.invoke('catalog:remove', { id: Number(positionals[0]) }));
          io.print({ removed: Number(positionals[0]) }, () => `Removed catalog source ${positionals[0]}.`);
        },
      },
    ],
  },
];
