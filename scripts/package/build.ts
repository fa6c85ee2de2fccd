/**
 * `npm run package`: builds the self-contained npm tarball of raftgres, dist/package/raftgres-X.tgz.
 *
 *   node --import tsx scripts/package/build.ts [--out <dir>]
 *
 * Inside the tarball (a package with no dependencies, so it installs offline with
 * `npm install -g ./raftgres-X.tgz`):
 *
 *   package.json                                bin: { raftgres: dist/raftgres.js }
 *   dist/raftgres.js                            esbuild bundle of src/agent/main.ts (CJS)
 *   dist/watchdog_process.js                    esbuild bundle of src/ha/io/watchdog_process.ts
 *   dist/prebuilds/linux-x64/classic-level.node LevelDB's native binding, found by node-gyp-build
 *   share/raftgres.service, share/node.yml.example, share/haproxy.cfg, share/pgbouncer.ini,
 *   share/raftgres-vip (the virtual IP callback), README.md
 *
 * Why CJS: the verified form (shared/reference/stack-notes.md); an ESM bundle would need a
 * `require` shim for the CommonJS dependencies anyway. The source uses `import.meta.url` in two
 * places, both about the file itself: watchdog.ts computes the watchdog script's path as
 * `<its own directory>/watchdog_process.js`, and watchdog_process.ts runs main() only when it is
 * the program. In the bundles `import.meta.url` becomes the bundle file's own URL, so the first
 * names dist/watchdog_process.js beside dist/raftgres.js, and the second holds when node runs it.
 * classic-level loads its binding with node-gyp-build(__dirname): in the bundle, __dirname is
 * dist/, hence dist/prebuilds/.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The project's root, whether this runs from scripts/package or compiled in dist/scripts/package. */
const ROOT = resolve(HERE, HERE.split(sep).includes("dist") ? "../../.." : "../..");
/** A build that takes longer is stuck (it takes about 2 s here). */
const NPM_PACK_TIMEOUT_MS = 60_000;

/** The variable that stands for `import.meta.url` in the bundles, defined by the banner. */
const IMPORT_META_URL = "__raftgres_import_meta_url";
const BANNER = [
  // The banner comes before esbuild's own "use strict": keep the bundle in strict mode, as ESM was.
  '"use strict";',
  `const ${IMPORT_META_URL} = require("node:url").pathToFileURL(__filename).href;`,
].join("\n");

/** The files of packaging/ that go into the package, and where. */
const SHARED_FILES: readonly (readonly [string, string])[] = [
  ["packaging/raftgres.service", "share/raftgres.service"],
  ["packaging/node.yml.example", "share/node.yml.example"],
  ["packaging/haproxy.cfg", "share/haproxy.cfg"],
  ["packaging/pgbouncer.ini", "share/pgbouncer.ini"],
  ["packaging/raftgres-vip", "share/raftgres-vip"],
  ["packaging/README.md", "README.md"],
];

export interface PackageResult {
  readonly tarball: string;
  readonly bytes: number;
}

/** Builds the tarball into `outDir` and returns its path. */
export async function buildPackage(outDir: string): Promise<PackageResult> {
  const rootPackage = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
  const stage = mkdtempSync(join(tmpdir(), "raftgres-package-"));
  try {
    await buildBundles(join(stage, "dist"));
    for (const [from, to] of SHARED_FILES) {
      mkdirSync(dirname(join(stage, to)), { recursive: true });
      copyFileSync(join(ROOT, from), join(stage, to));
    }
    writeFileSync(join(stage, "package.json"), `${JSON.stringify(packageJson(rootPackage), null, 2)}\n`);
    mkdirSync(outDir, { recursive: true });
    const packed = execFileSync("npm", ["pack", "--json", "--pack-destination", resolve(outDir), "--offline", "--loglevel=error"], {
      cwd: stage,
      encoding: "utf8",
      timeout: NPM_PACK_TIMEOUT_MS,
    });
    const filename = (JSON.parse(packed) as { filename: string }[])[0]?.filename;
    if (filename === undefined) throw new Error(`npm pack named no file: ${packed}`);
    const tarball = join(resolve(outDir), filename);
    return { tarball, bytes: statSync(tarball).size };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * The package's dist/: the two bundles and LevelDB's binding beside them — what an installed
 * raftgres runs (bench:idle measures these, not the unbundled build).
 */
export async function buildBundles(distDir: string): Promise<{ agentMain: string }> {
  await bundle(distDir);
  const prebuilds = join(distDir, "prebuilds", "linux-x64");
  mkdirSync(prebuilds, { recursive: true });
  copyFileSync(join(ROOT, "node_modules", "classic-level", "prebuilds", "linux-x64", "classic-level.node"), join(prebuilds, "classic-level.node"));
  return { agentMain: join(distDir, "raftgres.js") };
}

async function bundle(distDir: string): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: { raftgres: "src/agent/main.ts", watchdog_process: "src/ha/io/watchdog_process.ts" },
    outdir: distDir,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    define: { "import.meta.url": IMPORT_META_URL },
    banner: { js: BANNER },
    // node-postgres tries `require("pg-native")` only when asked for the native client.
    external: ["pg-native"],
    // Stack traces in operators' logs keep their function names.
    keepNames: true,
    // V8 keeps a script's source in memory: ASCII only (non-ASCII escaped) keeps it one byte a
    // character instead of two, and without comments and indentation it is smaller still
    // (issue 13: about 5 MB of an idle agent's memory). Names are not minified.
    charset: "ascii",
    minifyWhitespace: true,
    legalComments: "eof",
    logLevel: "error",
  });
}

/** The installed package's manifest: the root's identity, a bin, and no dependencies. */
function packageJson(root: Record<string, unknown>): Record<string, unknown> {
  return {
    name: root["name"],
    version: root["version"],
    description: root["description"],
    license: root["license"],
    // The bundle is CommonJS: no "type": "module".
    bin: { raftgres: "dist/raftgres.js" },
    engines: root["engines"],
    // The only native binary shipped is linux-x64 (glibc).
    os: ["linux"],
    cpu: ["x64"],
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const started = Date.now();
  const result = await buildPackage(values.out ?? join(ROOT, "dist", "package"));
  const kib = Math.round(result.bytes / 1024);
  process.stdout.write(`package: ${result.tarball} (${kib} KiB, ${Date.now() - started} ms)\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`package: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
