/**
 * The network layer of the fault-injection harness on real namespaces: three hosts, each running
 * an echo probe; every fault is checked by probing from inside the namespaces (host to host) and
 * from this process in the root namespace (clients). Needs root, iproute2 and iptables; skips
 * otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type Server, type Socket, connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { either as E } from "fp-ts";
import t from "tap";
import { lookupOsUser } from "../../../src/pg/os_user.js";
import { missingPrerequisite, runSync } from "../../../lab/jepsen/net/command.js";
import { DelayProxy } from "../../../lab/jepsen/net/delay.js";
import { EchoProbe } from "../../../lab/jepsen/net/probe.js";
import { Topology } from "../../../lab/jepsen/net/topology.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..", "..");
const ECHO_PORT = 7000;
const PROXY_PORT = 7100;
const ROOT_PORT = 7200;
/** How long a probe waits before calling a path blocked: well above a LAN round trip. */
const BLOCKED_MS = 600;
const HOSTS = ["a", "b", "c"] as const;
/** Ids unique per test process, so concurrent runs do not collide. */
const suffix = String(process.pid % 100_000);

const missing = missingPrerequisite();
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`);
} else {
  t.setTimeout(180_000);
  // A failure outside the subtests (the topology could not be built …) fails the file, and the
  // teardowns and the exit hook still clean up.
  await main().catch((error: unknown) => t.fail(error instanceof Error ? error.message : String(error)));
}

async function main(): Promise<void> {
  const topology = await Topology.create({ id: `n${suffix}`, hosts: [...HOSTS] });
  t.teardown(() => topology.destroy());
  const probes = new Map<string, EchoProbe>();
  for (const host of HOSTS) probes.set(host, await EchoProbe.start(topology, host, ECHO_PORT));
  const probe = (host: string): EchoProbe => probes.get(host)!;
  const ip = (host: string): string => topology.host(host).ip;
  // A server in the root namespace on the bridge address, to check host → client traffic.
  const rootServer = await listenEcho(topology.bridgeIp, ROOT_PORT);
  t.teardown(() => rootServer.close());

  /** Every ordered host pair, "a>b": whether a TCP echo from a to b works. */
  const matrix = async (): Promise<Record<string, boolean>> => {
    const pairs = HOSTS.flatMap((from) => HOSTS.filter((to) => to !== from).map((to) => [from, to] as const));
    const results = await Promise.all(pairs.map(([from, to]) => probe(from).tcp(ip(to), ECHO_PORT, BLOCKED_MS)));
    return Object.fromEntries(pairs.map(([from, to], i) => [`${from}>${to}`, results[i]!]));
  };
  /** "root>a": from this process to the host; "a>root": from the host to the bridge address. */
  const clients = async (): Promise<Record<string, boolean>> => {
    const results = await Promise.all([
      ...HOSTS.map((host) => rootTcp(ip(host), ECHO_PORT, BLOCKED_MS)),
      ...HOSTS.map((host) => probe(host).tcp(topology.bridgeIp, ROOT_PORT, BLOCKED_MS)),
    ]);
    const keys = [...HOSTS.map((h) => `root>${h}`), ...HOSTS.map((h) => `${h}>root`)];
    return Object.fromEntries(keys.map((key, i) => [key, results[i]!]));
  };
  const all = (keys: string[], value: boolean): Record<string, boolean> => Object.fromEntries(keys.map((k) => [k, value]));
  const everyPair = ["a>b", "a>c", "b>a", "b>c", "c>a", "c>b"];
  const everyClient = ["root>a", "root>b", "root>c", "a>root", "b>root", "c>root"];

  t.test("every host reaches every other host and the clients, and clients reach every host", async (t) => {
    t.match(topology.host("b"), { name: "b", netns: `rg-n${suffix}-b`, ip: /^10\.200\.\d+\.12$/ });
    t.same(await matrix(), all(everyPair, true));
    t.same(await clients(), all(everyClient, true));
  });

  t.test("partition([[a], [b, c]]) cuts a from b and c both ways, not b from c nor a from clients", async (t) => {
    await topology.partition([["a"], ["b", "c"]]);
    t.equal(topology.describeFaults(), "partition [a] [b c]");
    t.same(await matrix(), { "a>b": false, "a>c": false, "b>a": false, "b>c": true, "c>a": false, "c>b": true });
    t.same(await clients(), all(everyClient, true));
    await topology.heal();
    t.same(await matrix(), all(everyPair, true), "heal() restores every pair");
  });

  t.test("a bridge partition [[a, b], [b, c]] cuts a from c only", async (t) => {
    await topology.partition([["a", "b"], ["b", "c"]]);
    t.same(await matrix(), { ...all(everyPair, true), "a>c": false, "c>a": false });
    await topology.heal();
  });

  t.test("partition with clients: false cuts the clients from the partitioned hosts too", async (t) => {
    await topology.partition([["a"], ["b", "c"]], { clients: false });
    t.same(await clients(), all(everyClient, false));
    await topology.heal();
    t.same(await clients(), all(everyClient, true));
  });

  t.test("isolate(a) cuts a from every host; clients reach it unless clients: false", async (t) => {
    await topology.isolate("a", { clients: true });
    t.same(await matrix(), { "a>b": false, "a>c": false, "b>a": false, "b>c": true, "c>a": false, "c>b": true });
    t.same(await clients(), all(everyClient, true));
    await topology.heal();
    await topology.isolate("a", { clients: false });
    t.same(await clients(), { ...all(everyClient, true), "root>a": false, "a>root": false });
    await topology.heal();
    t.same(await clients(), all(everyClient, true));
  });

  t.test("dropOneWay(a, b) drops datagrams from a to b but not from b to a; TCP fails both ways", async (t) => {
    await topology.dropOneWay("a", "b");
    await probe("a").udpSend(ip("b"), ECHO_PORT, "one-way a>b");
    await probe("b").udpSend(ip("a"), ECHO_PORT, "one-way b>a");
    await sleep(300);
    t.equal(await probe("b").udpSeen("one-way a>b"), false, "a's datagram never reaches b");
    t.equal(await probe("a").udpSeen("one-way b>a"), true, "b's datagram reaches a");
    // A TCP connection needs both directions: from b, the SYN reaches a but the SYN-ACK is dropped.
    t.same(await matrix(), { ...all(everyPair, true), "a>b": false, "b>a": false });
    await topology.heal();
    t.same(await matrix(), all(everyPair, true));
  });

  t.test("loss(a, 1) drops all of a's traffic with other hosts, not with clients; heal restores it", async (t) => {
    await topology.loss("a", 1);
    t.same(await matrix(), { "a>b": false, "a>c": false, "b>a": false, "b>c": true, "c>a": false, "c>b": true });
    t.same(await clients(), all(everyClient, true));
    await topology.heal();
    await topology.loss("a", 0.3);
    t.match(await topology.rules("b"), [/-s 10\.200\.\d+\.11\/32 -m statistic --mode random --probability 0\.(3|29)/]);
    await topology.heal();
    t.same(await topology.rules("b"), [], "heal() empties the fault chains");
    t.same(await matrix(), all(everyPair, true));
  });

  t.test("faults cut established connections and the connection resumes after heal", async (t) => {
    const socket = connect({ host: ip("a"), port: ECHO_PORT });
    t.teardown(() => socket.destroy());
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    t.ok(await echoOn(socket, "before\n", BLOCKED_MS), "echo before the fault");
    await topology.isolate("a", { clients: false });
    const late = echoOn(socket, "during\n", 30_000);
    t.equal(await Promise.race([late, sleep(BLOCKED_MS).then(() => "blocked")]), "blocked", "no echo while isolated");
    await topology.heal();
    t.equal(await late, true, "TCP retransmits and the echo arrives after heal()");
  });

  t.test("faults combine until heal(), and unknown hosts are refused", async (t) => {
    await topology.dropOneWay("a", "c");
    await topology.dropOneWay("b", "c");
    t.equal(topology.faults().length, 2);
    t.same(await matrix(), { ...all(everyPair, false), "a>b": true, "b>a": true });
    await t.rejects(topology.isolate("z", { clients: true }), /unknown host "z"/);
    await t.rejects(topology.partition([["a"], ["q", "b"]]), /unknown host "q"/);
    t.equal(topology.faults().length, 2, "a refused fault changes nothing");
    await topology.heal();
    t.same(await matrix(), all(everyPair, true));
  });

  t.test("a DelayProxy adds its delay each way, to clients and peers, and nothing after setDelay(0)", async (t) => {
    const proxy = await DelayProxy.start(topology, "a", { listenPort: PROXY_PORT, targetPort: ECHO_PORT });
    t.teardown(() => proxy.stop());
    const socket = connect({ host: ip("a"), port: PROXY_PORT });
    t.teardown(() => socket.destroy());
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const base = await roundTripMs(socket);
    await proxy.setDelay(100);
    const slow = await roundTripMs(socket);
    const took = `took ${slow.toFixed(1)} ms, ${base.toFixed(1)} ms without`;
    t.ok(slow >= 200, `a round trip through a 100 ms proxy takes ≥ 200 ms (${took})`);
    t.ok(await probe("b").tcp(ip("a"), PROXY_PORT, 2_000), "a peer connects through the proxy");
    await proxy.setDelay(20, 40);
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}\n`);
    t.equal(await trickle(socket, lines), lines.join(""), "jitter keeps the byte order of chunks sent 1 ms apart");
    await proxy.setDelay(0);
    const fast = await roundTripMs(socket);
    t.ok(fast < 100, `setDelay(0) removes the delay (round trip ${fast.toFixed(1)} ms)`);
    await t.rejects(proxy.setDelay(-1), /delayMs and jitterMs must be numbers/);
  });

  t.test("spawn runs a command inside the namespace as another user", async (t) => {
    const user = lookupOsUser("postgres");
    if (E.isLeft(user)) {
      t.plan(0, `skipped: no postgres user: ${user.left}`);
      return;
    }
    const { uid, gid } = user.right;
    const child = topology.spawn("b", "sh", ["-c", "id -u; id -g; ip -4 -o addr show eth0"], { uid, gid });
    const out = await output(child);
    const [uidSeen, gidSeen, address] = out.split("\n");
    t.equal(Number(uidSeen), uid, "the command runs as postgres");
    t.equal(Number(gidSeen), gid);
    t.match(address, new RegExp(`inet ${ip("b").replace(/\./g, "\\.")}/24`));
  });

  t.test("a second topology coexists on another subnet and destroy() removes it", async (t) => {
    const other = await Topology.create({ id: `m${suffix}`, hosts: ["x"] });
    t.teardown(() => other.destroy());
    t.not(other.subnet, topology.subnet);
    await t.rejects(Topology.create({ id: `m${suffix}`, hosts: ["y"] }), /in use by process/);
    await other.destroy();
    await other.destroy();
    t.same(ourNamespaces(`m${suffix}`), []);
  });

  t.test("cleanupStale removes the namespaces and bridge of a process killed with SIGKILL", async (t) => {
    const id = `k${suffix}`;
    const script = `import { Topology } from ${JSON.stringify(join(ROOT, "lab", "jepsen", "net", "topology.ts"))};
      await Topology.create({ id: ${JSON.stringify(id)}, hosts: ["p", "q"] });
      process.stdout.write("up\\n");
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT });
    t.teardown(() => child.kill("SIGKILL"));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("up") && resolve());
      child.once("exit", (code) => reject(new Error(`the topology process exited with ${code}`)));
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    t.same(ourNamespaces(id), [`rg-${id}-p`, `rg-${id}-q`], "a killed process leaves its namespaces");
    t.same(Topology.cleanupStale(id), [id]);
    t.same(ourNamespaces(id), []);
    t.notOk(runSync("ip", ["-o", "link", "show"]).includes(`rgbr-${id}`), "the bridge is gone");
    t.same(Topology.cleanupStale(`n${suffix}`), [], "a live topology is left alone");
  });

  t.test("destroy() removes every namespace, the bridge and the root rules, and is idempotent", async (t) => {
    await topology.partition([["a"], ["b", "c"]]);
    await topology.destroy();
    await topology.destroy();
    t.same(ourNamespaces(`n${suffix}`), []);
    t.notOk(runSync("ip", ["-o", "link", "show"]).includes(topology.bridge), "the bridge is gone");
    t.notOk(runSync("iptables", ["-S"]).includes(`rgnet-n${suffix}`), "the root namespace rules are gone");
    t.throws(() => topology.spawn("a", "true"), /destroyed/);
  });
}

function ourNamespaces(id: string): string[] {
  return runSync("ip", ["netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(`rg-${id}-`))
    .sort();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function listenEcho(host: string, port: number): Promise<Server> {
  const server = createServer((socket) => {
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  return server;
}

/** Whether a TCP echo from this process (the root namespace, a client) to ip:port works in time. */
function rootTcp(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  const socket = connect({ host: ip, port });
  socket.on("error", () => {});
  const answered = new Promise<boolean>((resolve) => {
    socket.once("connect", () => void echoOn(socket, "client\n", timeoutMs).then(resolve));
    socket.once("error", () => resolve(false));
  });
  return Promise.race([answered, sleep(timeoutMs).then(() => false)]).finally(() => socket.destroy());
}

/** Writes `text` and resolves true once it came back, false after `timeoutMs`. */
function echoOn(socket: Socket, text: string, timeoutMs: number): Promise<boolean> {
  return exchange(socket, text, timeoutMs).then(
    (echoed) => echoed === text,
    () => false,
  );
}

/** Writes `text` and resolves with as many bytes as came back; rejects after `timeoutMs`. */
function exchange(socket: Socket, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = "";
    const onData = (chunk: Buffer): void => {
      received += chunk.toString();
      if (received.length >= text.length) done(() => resolve(received));
    };
    const done = (f: () => void): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      f();
    };
    const timer = setTimeout(() => done(() => reject(new Error(`no echo within ${timeoutMs} ms`))), timeoutMs);
    socket.on("data", onData);
    socket.write(text);
  });
}

/** Writes each piece in its own turn, 1 ms apart (separate chunks), and collects the echo. */
async function trickle(socket: Socket, pieces: readonly string[]): Promise<string> {
  const total = pieces.join("").length;
  let received = "";
  const onData = (chunk: Buffer): void => {
    received += chunk.toString();
  };
  socket.on("data", onData);
  for (const piece of pieces) {
    socket.write(piece);
    await sleep(1);
  }
  for (let waited = 0; received.length < total && waited < 10_000; waited += 20) await sleep(20);
  socket.off("data", onData);
  return received;
}

async function roundTripMs(socket: Socket): Promise<number> {
  const started = performance.now();
  await exchange(socket, "ping\n");
  return performance.now() - started;
}

function output(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}
