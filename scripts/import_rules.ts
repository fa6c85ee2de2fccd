/**
 * The dependency rules of shared/STYLE.md, checked over the source tree:
 * - each folder of src/ may import only the folders listed for it, and only the listed packages;
 * - the pure folders (src/lib, src/raft core, src/dcs, the decision half of src/ha) use no clock,
 *   timer, randomness, process or console;
 * - no import cycles among the files of src/;
 * - the main job, the benchmarks and the lab they share (scripts/, lab/) import nothing from
 *   test/: what they have in common with the tests lives in lab/.
 * Run by test/import_rules.test.ts; `node --import tsx scripts/import_rules.ts` prints violations.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

interface Rule {
  /** Folders of src/ (as "raft", "raft/runtime") this area may import from, besides itself. */
  readonly folders: readonly string[];
  /** npm packages this area may import; "node:" means every node: builtin. */
  readonly packages: readonly string[];
  /** Pure areas may not touch time, randomness, timers, the process or the console. */
  readonly pure: boolean;
}

const PURE_PACKAGES = ["@dao-xyz/borsh", "fp-ts"];

/** Longest prefix wins: "raft/runtime" is matched before "raft". */
export const RULES: Readonly<Record<string, Rule>> = {
  lib: { folders: [], packages: [], pure: true },
  raft: { folders: ["lib"], packages: PURE_PACKAGES, pure: true },
  "raft/runtime": { folders: ["lib", "raft"], packages: [...PURE_PACKAGES, "node:", "level", "ws"], pure: false },
  dcs: { folders: ["lib"], packages: PURE_PACKAGES, pure: true },
  ha: { folders: ["lib", "dcs"], packages: PURE_PACKAGES, pure: true },
  "ha/io": { folders: ["lib", "dcs", "ha"], packages: [...PURE_PACKAGES, "node:"], pure: false },
  pg: { folders: ["lib", "ha"], packages: [...PURE_PACKAGES, "node:", "pg"], pure: false },
  // The CLI (api/cli) parses its command line with commander, diffs configurations with diff
  // (jsdiff) and reads node.yml and edit-config input with yaml.
  api: { folders: ["lib", "dcs"], packages: [...PURE_PACKAGES, "node:", "fastify", "ws", "commander", "diff", "yaml"], pure: false },
  agent: {
    folders: ["lib", "raft", "raft/runtime", "dcs", "ha", "ha/io", "pg", "api"],
    packages: [...PURE_PACKAGES, "node:", "level", "ws", "pg", "fastify", "yaml"],
    pure: false,
  },
};

const IMPURE_TOKENS: readonly [RegExp, string][] = [
  [/\bDate\b/, "Date (time enters as ticks or an explicit nowMs)"],
  [/\bperformance\b/, "performance (time enters as ticks or an explicit nowMs)"],
  [/\bMath\.random\b/, "Math.random (take a seeded Prng)"],
  [/\bset(Timeout|Interval|Immediate)\b/, "timers"],
  [/\bprocess\./, "process"],
  [/\bconsole\./, "console (take a logger)"],
  [/\bqueueMicrotask\b/, "queueMicrotask"],
];

export interface Violation {
  readonly file: string;
  readonly message: string;
}

function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTsFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

function areaOf(srcRelative: string): string | undefined {
  const parts = srcRelative.split(sep);
  const nested = parts.slice(0, 2).join("/");
  if (parts.length > 2 && RULES[nested] !== undefined) return nested;
  return RULES[parts[0] ?? ""] !== undefined ? parts[0] : undefined;
}

const IMPORT_PATTERN = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(IMPORT_PATTERN)) specifiers.push((match[1] ?? match[2])!);
  return specifiers;
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

function stripStrings(source: string): string {
  return source.replace(/(["'`])(?:\\.|(?!\1)[^\\\n])*\1/g, '""');
}

function packageName(specifier: string): string {
  if (specifier.startsWith("node:")) return "node:";
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

export function checkImportRules(srcDir: string): Violation[] {
  const root = resolve(srcDir);
  const violations: Violation[] = [];
  const graph = new Map<string, string[]>();
  for (const file of listTsFiles(root)) {
    const rel = relative(root, file);
    const area = areaOf(rel);
    if (area === undefined) {
      violations.push({ file: rel, message: "is in no known area of src/ (see scripts/import_rules.ts)" });
      continue;
    }
    const rule = RULES[area]!;
    const source = readFileSync(file, "utf8");
    const edges: string[] = [];
    for (const specifier of importsOf(source)) {
      if (specifier.startsWith(".")) {
        const target = resolve(dirname(file), specifier.replace(/\.js$/, ".ts"));
        const targetRel = relative(root, target);
        const targetArea = areaOf(targetRel);
        edges.push(target);
        if (targetArea !== area && !rule.folders.includes(targetArea ?? "")) {
          violations.push({ file: rel, message: `imports ${specifier} (${targetArea ?? "outside src"}): ${area} may import only ${rule.folders.join(", ") || "nothing in src/"}` });
        }
      } else {
        const name = packageName(specifier);
        if (!rule.packages.includes(name)) {
          violations.push({ file: rel, message: `imports package ${specifier}: ${area} may use only ${rule.packages.join(", ") || "no packages"}` });
        }
      }
    }
    graph.set(file, edges);
    if (rule.pure) {
      const code = stripStrings(stripComments(source));
      for (const [pattern, what] of IMPURE_TOKENS) {
        if (pattern.test(code)) violations.push({ file: rel, message: `uses ${what}: ${area} is pure` });
      }
    }
  }
  for (const cycle of findCycles(graph)) {
    violations.push({ file: relative(root, cycle[0]!), message: `import cycle: ${cycle.map((f) => relative(root, f)).join(" -> ")}` });
  }
  return violations;
}

/** Folders that must not import from test/ (the demo, the benchmarks, and lab/ itself). */
export const OUTSIDE_TEST = ["scripts", "lab"] as const;

/** Files under `folders` of `root` that import from `root`/test. */
export function checkNoTestImports(root: string, folders: readonly string[] = OUTSIDE_TEST): Violation[] {
  const base = resolve(root);
  const tests = join(base, "test") + sep;
  const violations: Violation[] = [];
  for (const folder of folders) {
    for (const file of listTsFiles(join(base, folder))) {
      for (const specifier of importsOf(readFileSync(file, "utf8"))) {
        if (!specifier.startsWith(".")) continue;
        const target = resolve(dirname(file), specifier);
        if (target.startsWith(tests)) violations.push({ file: relative(base, file), message: `imports ${specifier} from test/: move what it needs to lab/` });
      }
    }
  }
  return violations;
}

function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "visiting");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      const seen = state.get(next);
      if (seen === "visiting") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const violations = [...checkImportRules(process.argv[2] ?? "src"), ...checkNoTestImports(".")];
  for (const v of violations) console.error(`${v.file}: ${v.message}`);
  if (violations.length > 0) process.exit(1);
  console.log("import rules: ok");
}
