/**
 * `raftgres agent -c FILE` with a broken file: the process exits at once with every problem of
 * the file on stderr, one `FILE: KEY: problem` line each. No PostgreSQL is involved: the agent
 * stops before it starts anything.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "agent", "main.ts");

t.test("the agent exits with the whole list of its file's problems", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "raftgres-config-exit-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "node1.yml");
  writeFileSync(file, `
scope: main
name: pg1
restapi: { listen: localhost }
raft:
  self_addr: 10.0.0.1:2222
  data_dir: /var/lib/raftgres/raft
  cluster_id: main
  members: { pg1: "10.0.0.1:2222", pg2: "10.0.0.2:2222" }
postgresql:
  listen: 127.0.0.1:5432
  data_dir: pg
  authentication:
    superuser: { username: postgres, password: pw }
    replication: { username: replicator, password: rpw }
`);
  const run = spawnSync(process.execPath, ["--import", "tsx", MAIN, "agent", "-c", file], { encoding: "utf8", timeout: 60_000 });
  t.equal(run.status, 2, "exit status 2: a usage or configuration error");
  t.equal(run.stdout, "", "nothing was started, so nothing was logged");
  t.same(run.stderr.trimEnd().split("\n"), [
    `raftgres: ${file} has 3 problems:`,
    `${file}: restapi.listen: must be host:port, got "localhost"`,
    `${file}: raft.secret_file: is required (or secret, inline, at least 8 characters): make one with \`raftgres secret --out /etc/raftgres/secret\`, copy that file to every member and set raft.secret_file: /etc/raftgres/secret`,
    `${file}: postgresql.data_dir: must be an absolute path, got "pg" (a relative one would depend on the directory the agent starts in)`,
  ]);
});
