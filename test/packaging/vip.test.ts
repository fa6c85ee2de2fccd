/**
 * packaging/raftgres-vip, the callback that moves a virtual IP with the primary role (issue 16,
 * item 5), on a real interface: one end of a veth pair in a network namespace of this test's
 * own (10.200.0.0/16, never the host's). Run directly and through the agent's CallbackRunner, with
 * the arguments the agent appends. Needs root and iproute2, as the fault-injection harness does.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { CallbackRunner } from "../../src/ha/io/callbacks.js";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { missingPrerequisite, runSync, tryRunSync } from "../../lab/jepsen/net/command.js";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "packaging", "raftgres-vip");
const NS = `rgvip${process.pid % 100_000}`;
const DEV = "vip0";
const VIP = "10.200.77.10/24";

/** The script inside the namespace: its exit status and what it wrote to stderr. */
function vip(...args: string[]): { status: number | null; stderr: string } {
  const run = spawnSync("ip", ["netns", "exec", NS, SCRIPT, ...args], { encoding: "utf8", timeout: 10_000 });
  return { status: run.status, stderr: run.stderr };
}

/** The IPv4 addresses of the dummy interface, with their prefixes. */
function addresses(): string[] {
  const out = runSync("ip", ["netns", "exec", NS, "ip", "-o", "-4", "address", "show", "dev", DEV]);
  return [...out.matchAll(/ inet (\S+) /g)].map((m) => m[1]!);
}

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const missing = missingPrerequisite();
if (missing !== null) {
  t.plan(0, `skipped: ${missing}`);
} else {
  t.setTimeout(60_000);
  runSync("ip", ["netns", "add", NS]);
  t.teardown(() => void tryRunSync("ip", ["netns", "del", NS]));
  try {
    runSync("ip", ["netns", "exec", NS, "ip", "link", "add", DEV, "type", "veth", "peer", "name", `${DEV}peer`]);
    runSync("ip", ["netns", "exec", NS, "ip", "link", "set", DEV, "up"]);
  } catch (error: unknown) {
    tryRunSync("ip", ["netns", "del", NS]);
    throw error;
  }

  t.test("the primary holds the address; every other role and a stop let it go; twice is harmless", async (t) => {
    t.same(vip("--vip", VIP, "--dev", DEV, "on_role_change", "primary", "main").status, 0);
    t.same(addresses(), [VIP], "added on a promotion");
    t.same(vip("--vip", VIP, "--dev", DEV, "on_start", "primary", "main").status, 0);
    t.same(addresses(), [VIP], "held once, not twice");
    t.same(vip("--vip", VIP, "--dev", DEV, "on_reload", "replica", "main").status, 0);
    t.same(addresses(), [VIP], "a reload changes nothing");
    t.same(vip("--vip", VIP, "--dev", DEV, "on_stop", "primary", "main").status, 0);
    t.same(addresses(), [], "removed when the primary stops");
    t.same(vip("--vip", VIP, "--dev", DEV, "on_role_change", "replica", "main").status, 0);
    t.same(addresses(), [], "a replica does not take it, and removing it again succeeds");
    t.same(vip("--vip", VIP, "--dev", DEV, "on_restart", "master", "main").status, 0);
    t.same(addresses(), [VIP], "Patroni's role name 'master' counts as the primary");
    t.same(vip("--vip", VIP, "--dev", DEV, "on_role_change", "replica", "main").status, 0);
    t.same(addresses(), [], "a demoted primary lets it go");
  });

  t.test("bad arguments are refused with a reason and change nothing", async (t) => {
    t.same(vip("--vip", VIP, "--dev", DEV, "on_start", "primary", "main").status, 0);
    const cases: [string[], RegExp][] = [
      [["--vip", "10.200.77.300/24", "--dev", DEV, "on_start", "primary", "main"], /300 is not an IPv4 octet/],
      [["--vip", "10.200.77.10", "--dev", DEV, "on_stop", "primary", "main"], /IPv4 address with its prefix length/],
      [["--vip", VIP, "--dev", "eth0; reboot", "on_stop", "primary", "main"], /must name a network interface/],
      [["--vip", VIP, "--dev", DEV, "on_promote", "primary", "main"], /unknown action 'on_promote'/],
      [["--vip", VIP, "--dev", DEV, "on_stop", "primary"], /expected 3 arguments/],
      [["--vip", VIP, "--devv", DEV, "on_stop", "primary", "main"], /unknown option --devv/],
    ];
    for (const [args, reason] of cases) {
      const run = vip(...args);
      t.equal(run.status, 2, `exit 2 for ${args.join(" ")}`);
      t.match(run.stderr, reason);
    }
    const absent = vip("--vip", VIP, "--dev", "nosuch0", "on_stop", "primary", "main");
    t.equal(absent.status, 1, "an interface that does not exist is a failure");
    t.match(absent.stderr, /no network interface 'nosuch0'/);
    t.same(addresses(), [VIP], "the address is still held");
    t.same(vip("--vip", VIP, "--dev", DEV, "on_stop", "primary", "main").status, 0);
  });

  t.test("run by the agent's CallbackRunner with the arguments it appends", async (t) => {
    const logger = createRecordingLogger();
    const command = `ip netns exec ${NS} ${SCRIPT} --vip ${VIP} --dev ${DEV}`;
    const runner = new CallbackRunner({ on_role_change: command, on_stop: command }, "main", logger);
    t.teardown(() => runner.stop());
    runner.fire("on_role_change", "primary");
    await until("the address to be added", () => addresses().length === 1);
    t.same(addresses(), [VIP]);
    await until("the callback to report", () => logger.lines.some((l) => l.message === "the on_role_change callback succeeded"));
    runner.fire("on_stop", "primary");
    await until("the address to be removed", () => addresses().length === 0);
    await until("the callback to report", () => logger.lines.some((l) => l.message === "the on_stop callback succeeded"));
    t.same(addresses(), []);
  });
}
