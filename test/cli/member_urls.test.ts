/**
 * The members' REST URLs an agent keeps beside its Raft log, and the CLI that tries them after
 * its own node's (member_urls.ts, member_urls_file.ts, config.ts).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { MemberUrlsWriter, memberUrls } from "../../src/agent/member_urls.js";
import { resolveConnection } from "../../src/api/cli/config.js";
import { MEMBER_URLS_FILE, readMemberUrls } from "../../src/api/cli/member_urls_file.js";
import type { ScopeView } from "../../src/dcs/views.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";

const view = (members: { name: string; apiUrl: string }[]) => ({ members }) as unknown as ScopeView;

t.test("the agent writes the members' URLs in name order when they change, and the CLI reads them back", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "raftgres-member-urls-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.same(memberUrls(view([{ name: "pg2", apiUrl: "http://10.0.0.2:8008" }, { name: "pg1", apiUrl: "http://10.0.0.1:8008" }, { name: "pg3", apiUrl: "" }])), ["http://10.0.0.1:8008", "http://10.0.0.2:8008"]);
  const writer = new MemberUrlsWriter(dir, "demo", SILENT_LOGGER);
  await writer.update(view([{ name: "pg1", apiUrl: "http://10.0.0.1:8008" }, { name: "pg2", apiUrl: "http://10.0.0.2:8008" }]));
  const path = join(dir, MEMBER_URLS_FILE);
  t.same(JSON.parse(await readFile(path, "utf8")), { scope: "demo", urls: ["http://10.0.0.1:8008", "http://10.0.0.2:8008"] });
  const read = (p: string) => readFileSync(p, "utf8");
  t.same(readMemberUrls(dir, "demo", read), ["http://10.0.0.1:8008", "http://10.0.0.2:8008"]);
  t.same(readMemberUrls(dir, "other", read), [], "another scope's file adds nothing");
  t.same(readMemberUrls(join(dir, "missing"), "demo", read), [], "a missing file adds nothing");
  const damaged = (text: string) => readMemberUrls(dir, "demo", () => text);
  t.same(damaged("{not json"), []);
  t.same(damaged(JSON.stringify({ scope: "demo", urls: ["http://ok:1", "file:///etc/passwd", 5, "http://a b:1"] })), ["http://ok:1"], "only http(s) origins are kept");
  t.same(damaged(" ".repeat(70_000)), [], "an oversized file is not read");

  const yaml = `scope: demo\nrestapi:\n  listen: 127.0.0.1:8008\nraft:\n  data_dir: ${dir}\n`;
  const files = (p: string) => (p === "/etc/node.yml" ? yaml : read(p));
  const connection = resolveConnection({ config: "/etc/node.yml" }, {}, files);
  t.same(connection.urls, ["http://127.0.0.1:8008", "http://10.0.0.1:8008", "http://10.0.0.2:8008"], "this node first, then the others");
  t.same(resolveConnection({ config: "/etc/node.yml", url: ["http://10.9.9.9:1"] }, {}, files).urls, ["http://10.9.9.9:1"], "--url wins");
});
