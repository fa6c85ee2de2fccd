import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { checkImportRules, checkNoTestImports } from "../scripts/import_rules.js";

t.test("the source tree follows the import rules of shared/STYLE.md", async (t) => {
  const violations = checkImportRules("src");
  t.same(violations, [], violations.map((v) => `${v.file}: ${v.message}`).join("\n"));
});

t.test("planted violations are reported", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "import-rules-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write("lib/a.ts", "export const a = 1;\n");
  write("raft/core.ts", 'import { x } from "../pg/x.js";\nimport { readFileSync } from "node:fs";\nexport const n = Date.now();\n');
  write("pg/x.ts", "export const x = 1;\n");
  write("dcs/one.ts", 'import { two } from "./two.js";\nexport const one = two;\n');
  write("dcs/two.ts", 'import { one } from "./one.js";\n// Date in a comment is fine\nexport const two = "Date.now()" + one;\n');
  const messages = checkImportRules(root).map((v) => `${v.file}: ${v.message}`);
  t.ok(messages.some((m) => m.startsWith("raft/core.ts: imports ../pg/x.js")), "raft may not import pg");
  t.ok(messages.some((m) => m.startsWith("raft/core.ts: imports package node:fs")), "raft may not do I/O");
  t.ok(messages.some((m) => m.startsWith("raft/core.ts: uses Date")), "raft may not read the clock");
  t.ok(messages.some((m) => m.includes("import cycle: dcs/one.ts -> dcs/two.ts -> dcs/one.ts")), "cycles are found");
  t.notOk(messages.some((m) => m.startsWith("dcs/two.ts: uses Date")), "comments and strings are not code");
});

t.test("the demo, the benchmarks and lab/ import nothing from test/", async (t) => {
  const violations = checkNoTestImports(".");
  t.same(violations, [], violations.map((v) => `${v.file}: ${v.message}`).join("\n"));
  const root = mkdtempSync(join(tmpdir(), "no-test-imports-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "test"), { recursive: true });
  mkdirSync(join(root, "scripts", "bench"), { recursive: true });
  mkdirSync(join(root, "lab"), { recursive: true });
  writeFileSync(join(root, "test", "helper.ts"), "export const h = 1;\n");
  writeFileSync(join(root, "scripts", "bench", "b.ts"), 'import { h } from "../../test/helper.js";\nexport const b = h;\n');
  writeFileSync(join(root, "lab", "ok.ts"), 'import { x } from "../src/x.js";\nexport const y = x;\n');
  const planted = checkNoTestImports(root).map((v) => `${v.file}: ${v.message}`);
  t.same(planted, ["scripts/bench/b.ts: imports ../../test/helper.js from test/: move what it needs to lab/"], "a planted import of test/ is reported, an import of src/ is not");
});
