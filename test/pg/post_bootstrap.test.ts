/**
 * post_bootstrap: the command gets the superuser's URL as its argument and PGPASSFILE, and its
 * failure comes back as a sentence with its exit and the end of its stderr.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { postBootstrapUrl, runPostBootstrap } from "../../src/pg/post_bootstrap.js";
import type { ResolvedSettings } from "../../src/pg/settings.js";

const settings = { connectHost: "127.0.0.1", port: 5433, superuser: { username: "postgres", password: "pw" }, passfile: "/var/lib/pg.pgpass" } as unknown as ResolvedSettings;

t.test("the command runs with the URL and PGPASSFILE; a failure says how", async (t) => {
  t.equal(postBootstrapUrl(settings), "postgres://postgres@127.0.0.1:5433/postgres");
  t.equal(postBootstrapUrl({ ...settings, connectHost: "::1" }), "postgres://postgres@[::1]:5433/postgres");
  const dir = await mkdtemp(join(tmpdir(), "raftgres-post-bootstrap-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, "out");
  t.equal(await runPostBootstrap(settings, `printf '%s %s' "$PGPASSFILE" > ${out} && printf '%s'`), null);
  t.equal(await readFile(out, "utf8"), "/var/lib/pg.pgpass ");
  t.equal(await runPostBootstrap(settings, `echo "$1" > ${out}; true`), null);
  t.equal((await readFile(out, "utf8")).trim(), "postgres://postgres@127.0.0.1:5433/postgres", "the URL is its argument");
  t.match(await runPostBootstrap(settings, "echo no such database >&2; exit 3"), /^post_bootstrap "echo no such database >&2; exit 3" exited with code 3: no such database$/);
  const started = Date.now();
  t.match(await runPostBootstrap(settings, "sleep 30; true", 200), /was killed after 0\.2 s/);
  t.ok(Date.now() - started < 5000, "with what it started (its process group)");
});
