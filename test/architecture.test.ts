/**
 * The layering of src-main/ and src-renderer/, read from the import graph. Imports are found with
 * TypeScript's own parser (every `import`, `export … from`, `import x = require()`, `import()` call and
 * `import('…')` type, type-only ones included), and Svelte components by parsing their <script> blocks.
 *
 * The layers:
 * - contract/ is the one way in: it imports nothing from core/, electron/, host/, cli/ or src-renderer/.
 * - core/ (the engine) never imports Electron, nor the front ends (electron/, host/, cli/).
 * - cli/ reaches the engine only through the contract: besides contract/ and its own files it imports the
 *   engine's entries (ENGINE_ENTRIES) and host/ (what `oklinux serve` runs).
 * - The renderer and the preload import only the contract (plus their own files).
 * - No import cycles in src-main/.
 * - Every contract channel reaches the CLI (IPC and the WebSocket carry them all), or is listed with why.
 * - One handler module per contract service in core/services/; the engine itself names no channel.
 * - Each folder has a header comment ("This folder (x/) …") saying what lives there and what may not.
 * - No file in src-main/ is over MAX_LINES lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CHANNELS, type Channel } from '@contract';
import { walk } from './helpers/imports';

const REPO = path.resolve(__dirname, '..');
const MAIN = path.join(REPO, 'src-main');
const RENDERER = path.join(REPO, 'src-renderer');

/** What the CLI may import from core/: the engine itself, and the supervisor process's entry (`__supervise`). */
const ENGINE_ENTRIES = ['core/engine.ts', 'core/vm/supervise-main.ts'];

const MAX_LINES = 400;
/** Files allowed over MAX_LINES, each with why. None: every file fits. */
const LONG_FILES: Record<string, string> = {};

/**
 * Channels no CLI command calls, each with why. Every other channel is called by name somewhere in cli/
 * (IPC and the WebSocket carry every channel: they are built from CHANNELS).
 */
const NOT_IN_CLI: Record<string, string> = {
  'console:detach': "the UI's way to stop relaying a console it left; a CLI console ends with its process",
  'downloads:list': "downloads belong to the engine process running them; a command's own engine has none",
  'downloads:cancel': 'a command cancels its own download with Ctrl-C; other processes own theirs',
  'fs:list': 'a folder browser for a browser page, which cannot see host paths; a terminal has its shell',
};

/** The TypeScript text of a file: a Svelte component's <script> blocks, or the file itself. */
function scriptOf(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  if (!file.endsWith('.svelte')) return text;
  const blocks = [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  return blocks.join('\n');
}

/** Every module specifier a file imports, by TypeScript's parser. */
function specifiers(file: string): string[] {
  return specifiersIn(file, scriptOf(file));
}

function specifiersIn(name: string, text: string): string[] {
  const src = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      found.push(node.moduleReference.expression.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return found;
}

/** The string literals (and property names in quotes) of a file, by the parser: channel names, for one. */
function stringLiterals(file: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node)) found.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(src);
  return found;
}

const ALIASES: [RegExp, string][] = [
  [/^@core\/(.*)$/, 'src-main/core/$1'],
  [/^@contract$/, 'src-main/contract/index.ts'],
  [/^@contract\/(.*)$/, 'src-main/contract/$1'],
  [/^@renderer\/(.*)$/, 'src-renderer/$1'],
];

/** The repository file a specifier names, or the bare package name for node_modules and node: imports. */
function resolve(from: string, spec: string): { file: string } | { pkg: string } {
  let base: string | null = null;
  if (spec.startsWith('.')) base = path.resolve(path.dirname(from), spec);
  for (const [re, to] of ALIASES) if (re.test(spec)) base = path.join(REPO, spec.replace(re, to));
  if (base === null) {
    const parts = spec.split('/');
    return { pkg: spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]! };
  }
  for (const cand of [base, `${base}.ts`, `${base}.svelte.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(cand) && fs.statSync(cand).isFile()) return { file: cand };
  }
  throw new Error(`${path.relative(REPO, from)} imports "${spec}", which resolves to no file`);
}

interface Edge {
  from: string;
  to: { file: string } | { pkg: string };
  spec: string;
}

const rel = (f: string): string => path.relative(REPO, f);
const mainRel = (f: string): string => path.relative(MAIN, f);

function graph(files: string[]): Edge[] {
  return files.flatMap((from) => specifiers(from).map((spec) => ({ from, spec, to: resolve(from, spec) })));
}

const mainFiles = walk(MAIN, ['.ts']);
const rendererFiles = walk(RENDERER, ['.ts', '.svelte']);
const edges = graph([...mainFiles, ...rendererFiles]);

const layerOf = (file: string): string => {
  if (file.startsWith(RENDERER + path.sep)) return 'renderer';
  if (file.startsWith(MAIN + path.sep)) return mainRel(file).split(path.sep)[0]!;
  return 'other';
};

function violations(pred: (e: Edge) => boolean): string[] {
  return edges
    .filter(pred)
    .map((e) => `${rel(e.from)} imports "${e.spec}"${'file' in e.to ? ` (${rel(e.to.file)})` : ''}`);
}

describe('architecture: the import graph holds the layering', () => {
  it('parses imports of every kind, Svelte scripts included', () => {
    // the parser sees what a regex over lines would miss or mistake
    const text = [
      "import {\n  a,\n  b,\n} from 'multi-line';",
      "// import { c } from 'commented-out';",
      'const s = "import x from \'in-a-string\'";',
      "export * from './re-export';",
      "type T = import('./type-only').T;",
      "const lazy = () => import('./dynamic');",
      "import type { U } from './types';",
    ].join('\n');
    expect(specifiersIn('probe.ts', text).sort()).toEqual(
      ['./dynamic', './re-export', './type-only', './types', 'multi-line'].sort(),
    );
    expect(specifiers(path.join(MAIN, 'cli', 'commands', 'serve.ts'))).toContain('../../host/server');
    expect(edges.length).toBeGreaterThan(200);
    expect(edges.some((e) => e.from.endsWith('.svelte'))).toBe(true);
  });

  it('contract/ imports nothing from core/, electron/, host/, cli/ or src-renderer/', () => {
    const bad = violations(
      (e) => layerOf(e.from) === 'contract' && 'file' in e.to && layerOf(e.to.file) !== 'contract',
    );
    expect(bad).toEqual([]);
    // and of packages only zod (a contract is schemas and types)
    const pkgs = violations((e) => layerOf(e.from) === 'contract' && 'pkg' in e.to && e.to.pkg !== 'zod');
    expect(pkgs).toEqual([]);
  });

  it('core/ never imports Electron, nor a front end (electron/, host/, cli/, src-renderer/)', () => {
    const bad = violations(
      (e) =>
        layerOf(e.from) === 'core' &&
        (('pkg' in e.to && e.to.pkg === 'electron') ||
          ('file' in e.to && ['electron', 'host', 'cli', 'renderer'].includes(layerOf(e.to.file)))),
    );
    expect(bad).toEqual([]);
  });

  it("cli/ imports only contract/, its own files, host/ (serve) and the engine's entries", () => {
    const entries = ENGINE_ENTRIES.map((f) => path.join(MAIN, f));
    const bad = violations((e) => {
      if (layerOf(e.from) !== 'cli' || !('file' in e.to)) return false;
      const to = layerOf(e.to.file);
      if (to === 'cli' || to === 'contract' || to === 'host') return false;
      return !entries.includes(e.to.file);
    });
    expect(bad).toEqual([]);
  });

  it('every contract channel is called by some CLI command, or is listed with why it is not', () => {
    const literals = new Set(mainFiles.filter((f) => layerOf(f) === 'cli').flatMap(stringLiterals));
    const missing = CHANNELS.filter((c) => !literals.has(c) && !(c in NOT_IN_CLI));
    expect(missing).toEqual([]);
    const listedButUsed = Object.keys(NOT_IN_CLI).filter((c) => literals.has(c) || !CHANNELS.includes(c as Channel));
    expect(listedButUsed).toEqual([]);
  });

  it('one handler module per contract service (core/services/<service>.ts); the engine only wires them', () => {
    const services = [...new Set(CHANNELS.map((c) => c.split(':')[0]!))];
    const missing = services.filter((s) => !fs.existsSync(path.join(MAIN, 'core', 'services', `${s}.ts`)));
    expect(missing).toEqual([]);
    // each module registers its own service's channels and no other's
    for (const s of services) {
      const file = path.join(MAIN, 'core', 'services', `${s}.ts`);
      const named = stringLiterals(file).filter((t) => (CHANNELS as string[]).includes(t));
      expect(
        named.filter((c) => !c.startsWith(`${s}:`)),
        file,
      ).toEqual([]);
      expect(named.length, `${file} registers no ${s}:* channel`).toBeGreaterThan(0);
    }
    // no handler in the engine itself: it names no channel
    const inEngine = stringLiterals(path.join(MAIN, 'core', 'engine.ts')).filter((t) =>
      (CHANNELS as string[]).includes(t),
    );
    expect(inEngine).toEqual([]);
  });

  it('the renderer and the preload import only contract/ (and their own files)', () => {
    const preload = path.join(MAIN, 'electron', 'preload.ts');
    const bad = violations((e) => {
      if (!('file' in e.to)) return false;
      if (layerOf(e.from) === 'renderer') return !['renderer', 'contract'].includes(layerOf(e.to.file));
      if (e.from === preload) return !['electron', 'contract'].includes(layerOf(e.to.file));
      return false;
    });
    expect(bad).toEqual([]);
    // the preload's own imports inside electron/ are only its channel names
    const own = edges
      .filter((e) => e.from === preload && 'file' in e.to && layerOf(e.to.file) === 'electron')
      .map((e) => ('file' in e.to ? mainRel(e.to.file) : ''));
    expect(own).toEqual(['electron/channels.ts']);
  });

  it('src-main/ has no import cycles', () => {
    const adj = new Map<string, string[]>();
    for (const e of edges) {
      if (!('file' in e.to) || layerOf(e.from) === 'renderer' || layerOf(e.to.file) === 'renderer') continue;
      adj.set(e.from, [...(adj.get(e.from) ?? []), e.to.file]);
    }
    // Tarjan's strongly connected components: any with more than one file (or a self-import) is a cycle
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const on = new Set<string>();
    const cycles: string[][] = [];
    const strong = (v: string): void => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of adj.get(v) ?? []) {
        if (!idx.has(w)) {
          strong(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          on.delete(w);
          comp.push(mainRel(w));
        } while (w !== v);
        if (comp.length > 1 || (adj.get(v) ?? []).includes(v)) cycles.push(comp.sort());
      }
    };
    for (const f of mainFiles) if (!idx.has(f)) strong(f);
    expect(cycles).toEqual([]);
  });

  it('each folder has a header comment saying what lives there and what may not', () => {
    const dirs = [...new Set(mainFiles.map((f) => path.dirname(f)).filter((d) => d !== MAIN)), RENDERER];
    const missing = dirs.filter((dir) => {
      const label = `This folder (${path.relative(dir === RENDERER ? REPO : MAIN, dir)}/)`;
      return !fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.ts'))
        .some((n) => fs.readFileSync(path.join(dir, n), 'utf8').split('*/')[0]!.includes(label));
    });
    expect(missing.map(rel)).toEqual([]);
  });

  it(`no file in src-main/ is over ${MAX_LINES} lines (exceptions listed with why)`, () => {
    const long = mainFiles
      .map((f) => ({ file: mainRel(f), lines: fs.readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES && !(f.file in LONG_FILES))
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(long).toEqual([]);
    for (const [file, why] of Object.entries(LONG_FILES)) {
      expect(fs.existsSync(path.join(MAIN, file)), `${file} is listed in LONG_FILES but does not exist`).toBe(true);
      expect(why.length).toBeGreaterThan(20);
    }
  });
});
