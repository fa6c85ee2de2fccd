import { either as E } from "fp-ts";
import t from "tap";
import { parseAgentConfig } from "../../src/agent/config.js";
import { problemLine, problemsMessage, sentenceLine } from "../../src/agent/config_lines.js";

t.test("problemLine() writes FILE: KEY: problem, or FILE: problem for the whole file", async (t) => {
  t.equal(problemLine("node1.yml", "raft.secret_file", "is required"), "node1.yml: raft.secret_file: is required");
  t.equal(problemLine("node1.yml", "", "cannot read the configuration"), "node1.yml: cannot read the configuration");
});

t.test("sentenceLine() moves the key another module's sentence starts with into the KEY place", async (t) => {
  const cases: [string, string, string][] = [
    ["bootstrap.dcs", 'ttl must be a number of seconds from 3 to 3600, got "abc"', 'f.yml: bootstrap.dcs.ttl: must be a number of seconds from 3 to 3600, got "abc"'],
    ["bootstrap.dcs", 'standby_cluster: unknown key "hots" (allowed: host)', 'f.yml: bootstrap.dcs.standby_cluster: unknown key "hots" (allowed: host)'],
    ["", 'postgresql.parameters.work_mem = "4XB": work_mem takes an integer', 'f.yml: postgresql.parameters.work_mem: got "4XB": work_mem takes an integer'],
    ["", "postgresql.parameters.shared_bufers is not a PostgreSQL 15 parameter", "f.yml: postgresql.parameters.shared_bufers: is not a PostgreSQL 15 parameter"],
    ["bootstrap", "dcs.a.a is nested 17 levels deep", "f.yml: bootstrap.dcs.a.a: is nested 17 levels deep"],
    ["bootstrap", 'dcs["x y"] holds a control character', 'f.yml: bootstrap.dcs["x y"]: holds a control character'],
    ["bootstrap.dcs", "loop_wait 2 s + 2 × retry_timeout 2 s = 6 s exceeds ttl 5 s", "f.yml: bootstrap.dcs: loop_wait 2 s + 2 × retry_timeout 2 s = 6 s exceeds ttl 5 s"],
    ["", "a sentence about nothing in particular", "f.yml: a sentence about nothing in particular"],
  ];
  for (const [base, sentence, line] of cases) t.equal(sentenceLine("f.yml", base, sentence), line, sentence);
});

t.test("problemsMessage() is the line itself for one problem, a count and every line for more", async (t) => {
  t.equal(problemsMessage("f.yml", ["f.yml: a: b"]), "f.yml: a: b");
  t.equal(problemsMessage("f.yml", ["f.yml: a: b", "f.yml: c: d"]), "f.yml has 2 problems:\nf.yml: a: b\nf.yml: c: d");
});

t.test("every YAML syntax error is reported at once, at its line and column", async (t) => {
  const parsed = parseAgentConfig("scope: main\nscope: other\nname: [pg1\nraft: {\n", "node1.yml");
  const lines = (E.isLeft(parsed) ? parsed.left : "accepted").split("\n");
  t.equal(lines[0], "node1.yml has 3 problems:");
  t.same(lines.slice(1).map((line) => line.replace(/^(node1\.yml: line \d+, column \d+: ).*/, "$1")), ["node1.yml: line 2, column 1: ", "node1.yml: line 4, column 1: ", "node1.yml: line 5, column 1: "]);
  t.match(lines[1], /^node1\.yml: line 2, column 1: Map keys must be unique$/, "a key given twice is refused, not silently the last one");
});
