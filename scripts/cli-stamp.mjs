/**
 * Whether the bundled CLI (dist/cli/) is up to date with the sources it was built from.
 *
 * Each CLI-side build (vite.main.config.mjs --mode cli|supervise) writes `<bundle>.stamp.json` beside its
 * bundle: every input file with its size and mtime, the mtime of every folder of sources, and one SHA-256
 * over the inputs' paths and contents, taken when the build starts. bin/oklinux.cjs runs a bundle only when
 * its stamp still matches: the same set of input files, and either the same sizes and mtimes or, when some
 * mtime moved (a checkout, a touch), the same contents. Anything else (a missing or unreadable stamp, a file
 * added, removed or changed) means stale, and the sources run instead. The set of files is taken as
 * recorded while no source folder's mtime moved (adding, removing or renaming an entry changes its
 * folder's mtime), and walked again otherwise: so a check is one stat per file and folder (~200, a few ms).
 *
 * The inputs: everything under src-main/, package.json (the version is inlined, the externals follow its
 * dependencies), the build config, tsconfig.json (the path aliases), this file, and the package.json of
 * each dependency bundled in (zod).
 */
// built-ins through process.getBuiltinModule (bin/oklinux.cjs loads this file on every call): an ES import
// of one builds a facade that loads its lazy parts (node:fs its streams)
const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');

const ROOT_FILES = ['package.json', 'tsconfig.json', 'vite.main.config.mjs', 'scripts/cli-stamp.mjs'];
const SOURCE_DIRS = ['src-main'];
/** Dependencies bundled into the CLI (vite.main.config.mjs bundles these): their version is an input too. */
export const INLINED_DEPS = ['zod'];

/**
 * @param {string} root
 * @param {string[]} [dirs] filled with the source folders walked, relative to root
 * @returns {string[]} input files, relative to root, sorted
 */
function inputFiles(root, dirs = []) {
  const out = [...ROOT_FILES, ...INLINED_DEPS.map((d) => `node_modules/${d}/package.json`)];
  /** @param {string} rel */
  const walk = (rel) => {
    dirs.push(rel);
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${d.name}`;
      if (d.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return out.sort();
}

/**
 * The input files as the stamp lists them, if no source folder's mtime moved since (so none gained, lost or
 * renamed an entry); null when one did, or the stamp records no folders.
 * @param {string} root with a trailing slash
 * @param {unknown} stamp
 * @returns {string[] | null}
 */
function unchangedInputs(root, stamp) {
  const { files, dirs } = /** @type {{ files?: unknown, dirs?: unknown }} */ (stamp ?? {});
  if (!files || typeof files !== 'object' || !dirs || typeof dirs !== 'object') return null;
  for (const [d, mtime] of Object.entries(dirs)) {
    if (fs.statSync(root + d, { throwIfNoEntry: false })?.mtimeMs !== mtime) return null;
  }
  return Object.keys(files);
}

/** @param {string} root @param {string[]} files */
function contentHash(root, files) {
  // node:crypto loads only when some mtime moved (a few ms bin/oklinux.cjs does not pay on every call)
  const h = process.getBuiltinModule('node:crypto').createHash('sha256');
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(fs.readFileSync(path.join(root, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

/**
 * The stamp of the inputs as they are now.
 * @param {string} root the repository
 * @returns {{ hash: string, files: Record<string, [number, number]>, dirs: Record<string, number> }}
 */
export function currentStamp(root) {
  /** @type {string[]} */
  const walked = [];
  const names = inputFiles(root, walked);
  /** @type {Record<string, number>} */
  const dirs = {};
  for (const d of walked) dirs[d] = fs.statSync(path.join(root, d)).mtimeMs;
  /** @type {Record<string, [number, number]>} */
  const files = {};
  for (const f of names) {
    const st = fs.statSync(path.join(root, f));
    files[f] = [st.size, st.mtimeMs];
  }
  return { hash: contentHash(root, names), files, dirs };
}

/** @param {string} bundle */
export const stampFileOf = (bundle) => `${bundle}.stamp.json`;

/**
 * Whether `bundle` (a file in dist/cli/) was built from the inputs under `root` as they are now.
 * @param {string} root
 * @param {string} bundle
 * @returns {{ fresh: true } | { fresh: false, why: string }}
 */
export function bundleFreshness(root, bundle) {
  let stamp;
  try {
    if (!fs.existsSync(bundle)) return { fresh: false, why: `${bundle} is not built` };
    stamp = JSON.parse(fs.readFileSync(stampFileOf(bundle), 'utf8'));
  } catch (e) {
    return { fresh: false, why: `its stamp cannot be read (${/** @type {Error} */ (e).message})` };
  }
  const base = root.endsWith('/') ? root : `${root}/`;
  let names;
  try {
    names = unchangedInputs(base, stamp) ?? inputFiles(root);
  } catch (e) {
    return { fresh: false, why: `the sources cannot be listed (${/** @type {Error} */ (e).message})` };
  }
  const recorded = stamp && typeof stamp.files === 'object' ? stamp.files : {};
  const added = names.find((f) => !(f in recorded));
  if (added) return { fresh: false, why: `${added} was added since the build` };
  const present = new Set(names);
  const removed = Object.keys(recorded).find((f) => !present.has(f));
  if (removed) return { fresh: false, why: `${removed} was removed since the build` };
  let moved = false;
  for (const f of names) {
    let st;
    try {
      st = fs.statSync(base + f);
    } catch {
      return { fresh: false, why: `${f} cannot be read` };
    }
    const [size, mtime] = recorded[f];
    if (st.size !== size) return { fresh: false, why: `${f} changed since the build` };
    if (st.mtimeMs !== mtime) moved = true;
  }
  if (moved && contentHash(root, names) !== stamp.hash)
    return { fresh: false, why: 'a source changed since the build' };
  return { fresh: true };
}

/**
 * A Vite plugin for the CLI-side builds: the stamp is taken when the build starts (so an edit made while
 * it runs makes the bundle stale) and written beside the bundle once it is written.
 * @param {string} root
 * @param {string} file the bundle's file name (oklinux.mjs, supervise.mjs)
 * @returns {import('vite').Plugin}
 */
export function writeStampPlugin(root, file) {
  /** @type {ReturnType<typeof currentStamp> | null} */
  let stamp = null;
  return {
    name: 'oklinux-cli-stamp',
    buildStart() {
      stamp = currentStamp(root);
    },
    writeBundle(options) {
      if (!stamp || !options.dir) return;
      const target = stampFileOf(path.join(options.dir, file));
      const tmp = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(stamp));
      fs.renameSync(tmp, target);
    },
  };
}
