/**
 * The runtime import graph of src-main, read with TypeScript's parser: type-only imports load nothing and are
 * skipped. Used by tests that hold what a hot path loads (test/vm/supervise-imports.test.ts,
 * test/download/undici-lazy.test.ts), and the source walk test/architecture.test.ts uses too.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const SRC = path.resolve(__dirname, '../../src-main');

/** The files under `dir` whose names end with one of `exts` (declaration files left out). */
export function walk(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...walk(p, exts));
    else if (exts.some((e) => d.name.endsWith(e)) && !d.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const ALIASES: Record<string, string> = { '@core/': 'core/', '@contract/': 'contract/', '@contract': 'contract/index' };

function resolve(from: string, spec: string): string | null {
  let rel: string | null = null;
  for (const [alias, dir] of Object.entries(ALIASES)) {
    if (spec === alias || spec.startsWith(alias)) {
      rel = path.join(SRC, dir + spec.slice(alias.length));
      break;
    }
  }
  if (!rel && spec.startsWith('.')) rel = path.resolve(path.dirname(from), spec);
  if (!rel) return null;
  for (const f of [`${rel}.ts`, path.join(rel, 'index.ts'), rel])
    if (fs.existsSync(f) && fs.statSync(f).isFile()) return f;
  throw new Error(`${from}: cannot resolve ${spec}`);
}

/** Runtime imports of a file: package names and resolved source files. */
export function runtimeImports(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      if (st.importClause?.isTypeOnly) continue;
      const named = st.importClause?.namedBindings;
      const allTypes =
        !st.importClause?.name && named && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly);
      if (allTypes && named.elements.length) continue;
      out.push((st.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && !st.isTypeOnly) {
      out.push((st.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return out.map((s) => resolve(file, s) ?? s);
}

/** Every module reachable from `entry` by runtime imports, each with the file that first imported it. */
export function reachable(entry: string): { files: Set<string>; importedBy: Map<string, string> } {
  const files = new Set<string>();
  const importedBy = new Map<string, string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const dep of runtimeImports(f)) {
      if (!importedBy.has(dep)) importedBy.set(dep, f);
      if (path.isAbsolute(dep)) todo.push(dep);
    }
  }
  return { files, importedBy };
}
