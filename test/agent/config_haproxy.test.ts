import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { either as E } from "fp-ts";
import t from "tap";
import { parseAgentConfig } from "../../src/agent/config.js";
import { MINIMAL_NODE_YML, problems } from "./config_support.js";
import { HAPROXY_TIMEOUT_MS } from "../../src/agent/config_haproxy.js";

const BASE = MINIMAL_NODE_YML;

t.test("a node.yml without a haproxy section pushes to no HAProxy", async (t) => {
  const parsed = parseAgentConfig(BASE, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.equal(parsed.right.haproxy, null);
});

t.test("the haproxy section is read: unix and TCP sockets, backends, server names, the default time limit", async (t) => {
  const parsed = parseAgentConfig(`${BASE}
haproxy:
  sockets: [/run/haproxy/admin.sock, "10.0.0.9:9999", "ipv4@10.0.0.10:9999", "unix@/run/haproxy/other.sock"]
  write_backend: primary
  read_backend: replicas
  servers: { pg1: db1, pg2: "db-2.example" }
`, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  const haproxy = parsed.right.haproxy!;
  t.same(haproxy.sockets, [
    { kind: "unix", path: "/run/haproxy/admin.sock" },
    { kind: "tcp", host: "10.0.0.9", port: 9999 },
    { kind: "tcp", host: "10.0.0.10", port: 9999 },
    { kind: "unix", path: "/run/haproxy/other.sock" },
  ]);
  t.equal(haproxy.writeBackend, "primary");
  t.equal(haproxy.readBackend, "replicas");
  t.same([...haproxy.servers], [["pg1", "db1"], ["pg2", "db-2.example"]]);
  t.equal(haproxy.timeoutMs, HAPROXY_TIMEOUT_MS.fallback);
});

t.test("read_backend is optional: without it only the write backend is pushed", async (t) => {
  const parsed = parseAgentConfig(`${BASE}
haproxy:
  sockets: [/run/haproxy/admin.sock]
  write_backend: primary
  timeout_ms: 200
`, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.equal(parsed.right.haproxy!.readBackend, null);
  t.equal(parsed.right.haproxy!.timeoutMs, 200);
  t.equal(parsed.right.haproxy!.servers.size, 0);
});

t.test("every mistake of the section is named at once, FILE: KEY: problem", async (t) => {
  const text = problems(`${BASE}
haproxy:
  sockets: [relative.sock, "host-without-port", "10.0.0.1:70000"]
  write_backend: "pri mary"
  read_backend: "x;shutdown"
  servers: { pg1: "db 1" }
  timeout_ms: 10
  retries: 3
`);
  t.match(text, /node\.yml: haproxy\.sockets: "relative\.sock" is neither an absolute unix socket path/);
  t.match(text, /node\.yml: haproxy\.write_backend: "pri mary" is not an HAProxy name/);
  t.match(text, /node\.yml: haproxy\.read_backend: "x;shutdown" is not an HAProxy name/);
  t.match(text, /node\.yml: haproxy\.servers: "db 1" is not an HAProxy name/);
  t.match(text, /node\.yml: haproxy\.timeout_ms: must be an integer from 50 to 5000, got 10/);
  t.match(text, /node\.yml: haproxy\.retries: unknown key; the keys of haproxy are sockets, write_backend, read_backend, servers, timeout_ms/);
});

t.test("sockets and write_backend are required, with what to write", async (t) => {
  const text = problems(`${BASE}
haproxy:
  read_backend: replicas
`);
  t.match(text, /haproxy\.sockets: is required: HAProxy's admin sockets, e\.g\. \[\/run\/haproxy\/admin\.sock\]/);
  t.match(text, /haproxy\.write_backend: is required: the name of the backend or listen section of writes/);
});

t.test("the same backend for reads and writes, a socket twice, a bad member name and an empty list are refused", async (t) => {
  t.match(problems(`${BASE}
haproxy:
  sockets: [/run/a.sock, /run/a.sock]
  write_backend: pool
  read_backend: pool
  servers: { "bad name": db1 }
`), /haproxy\.read_backend: must differ from write_backend \(pool\)[\s\S]*haproxy\.sockets: names a socket twice[\s\S]*haproxy\.servers: "bad name" is not a member name/);
  t.match(problems(`${BASE}
haproxy:
  sockets: []
  write_backend: primary
`), /haproxy\.sockets: must list 1 to 16 admin sockets, got 0/);
  t.match(problems(`${BASE}
haproxy:
  sockets: /run/a.sock
  write_backend: primary
`), /haproxy\.sockets: must be a list of strings/);
});

t.test("packaging/node.yml.example's haproxy section, uncommented, is accepted", async (t) => {
  const example = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "packaging", "node.yml.example"), "utf8");
  const lines = example.split("\n");
  const start = lines.indexOf("# haproxy:");
  t.ok(start >= 0, "the example has a commented haproxy section");
  const section = ["haproxy:"];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("  # ")) break;
    const uncommented = line.replace(/^ {2}# /, "  ");
    // Keys are uncommented; their explanations stay comments.
    section.push(/^ {2}[a-z_]+:/.test(uncommented) ? uncommented : line);
  }
  const parsed = parseAgentConfig(`${BASE}\n${section.join("\n")}\n`, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.same(parsed.right.haproxy?.sockets, [{ kind: "unix", path: "/run/haproxy/admin.sock" }]);
  t.equal(parsed.right.haproxy?.writeBackend, "primary");
  t.equal(parsed.right.haproxy?.readBackend, "replicas");
  t.equal(parsed.right.haproxy?.servers.get("pg2"), "db2");
});
