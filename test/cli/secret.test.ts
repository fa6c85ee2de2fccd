/**
 * `raftgres secret`: a shared secret the agent accepts — at least 32 bytes, in a file only its
 * owner can read — and no silent overwrite of an existing one.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { cli } from "./support.js";

t.test("secret --out writes a private file of a long secret, and refuses to replace one without --force", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "raftgres-cli-secret-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "secret");
  const made = await cli(["secret", "--out", path]);
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, /wrote a new secret to .*secret \(mode 0600\)/);
  const first = readFileSync(path, "utf8").trim();
  t.ok(Buffer.byteLength(first) >= 32, `${Buffer.byteLength(first)} bytes`);
  t.equal(statSync(path).mode & 0o777, 0o600);
  const again = await cli(["secret", "--out", path]);
  t.equal(again.code, 1);
  t.match(again.stderr, /exists; .* pass --force to overwrite it/);
  t.equal(readFileSync(path, "utf8").trim(), first, "the existing secret is kept");
  writeFileSync(path, "old\n", { mode: 0o644 });
  const forced = await cli(["secret", "--out", path, "--force"]);
  t.equal(forced.code, 0, forced.stderr);
  t.not(readFileSync(path, "utf8").trim(), "old");
  t.equal(statSync(path).mode & 0o777, 0o600, "an overwritten file becomes private too");
});

t.test("secret without --out prints a new secret each time", async (t) => {
  const a = await cli(["secret"]);
  const b = await cli(["secret"]);
  t.equal(a.code, 0);
  t.match(a.stdout.trim(), /^[A-Za-z0-9+/=]{64}$/);
  t.not(a.stdout, b.stdout);
});
