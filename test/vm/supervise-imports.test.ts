/**
 * The supervisor spawns the VMM as soon as it has checked its plan (#11 item 6: nothing awaited that the VMM
 * does not need). Everything it imports statically loads before that spawn, so its import graph must not reach
 * the contract's schemas (and with them zod: about 130 ms of the supervisor's 190 ms import here, measured on
 * dist/cli/supervise.mjs). Read with TypeScript's parser; type-only imports load nothing and are skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../src-main');
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
function runtimeImports(file: string): string[] {
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

describe("the supervisor's static imports", () => {
  it('do not reach the contract schemas or zod', () => {
    const seen = new Set<string>();
    const reach = new Map<string, string>();
    const todo = [path.join(SRC, 'core/vm/supervise-main.ts')];
    while (todo.length) {
      const f = todo.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      for (const dep of runtimeImports(f)) {
        if (!reach.has(dep)) reach.set(dep, f);
        if (path.isAbsolute(dep)) todo.push(dep);
      }
    }
    const bad = [path.join(SRC, 'contract/schemas.ts'), path.join(SRC, 'contract/index.ts'), 'zod'].filter((m) =>
      reach.has(m),
    );
    expect(
      bad.map(
        (m) => `${path.isAbsolute(m) ? path.relative(SRC, m) : m} (imported by ${path.relative(SRC, reach.get(m)!)})`,
      ),
    ).toEqual([]);
    expect(seen.size).toBeGreaterThan(10);
  });
});
