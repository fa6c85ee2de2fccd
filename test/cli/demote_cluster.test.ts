/**
 * demote-cluster at the edges: the CLI's options become a standby_cluster section checked as the
 * cluster state checks it (usage errors name the option), and the REST API's config check takes
 * the demote directive apart from the config (the cluster state's rules: test/ha/demote_cluster).
 */
import t from "tap";
import { checkConfigChange } from "../../src/api/config_check.js";
import { demoteSection } from "../../src/api/cli/commands/standby_cluster.js";
import { CliExit } from "../../src/api/cli/exit.js";

function usage(run: () => unknown): string {
  try {
    run();
    return "accepted";
  } catch (error: unknown) {
    if (error instanceof CliExit) return `${error.code}: ${error.message}`;
    throw error;
  }
}

t.test("demote-cluster's options: a source is named, every value checked before anything is sent", async (t) => {
  t.same(demoteSection({ host: "10.0.0.5", port: "5433", primarySlotName: "dr" }), { host: "10.0.0.5", port: 5433, primary_slot_name: "dr" });
  t.same(demoteSection({ restoreCommand: "cp /archive/%f %p" }), { restore_command: "cp /archive/%f %p" }, "an archive alone is a source, as in patronictl");
  t.match(usage(() => demoteSection({ primarySlotName: "dr" })), /^2: name the source: at least --host, --port or --restore-command/);
  t.match(usage(() => demoteSection({ port: "70000" })), /^2: standby_cluster\.port must be an integer from 1 to 65535, got 70000/);
  t.match(usage(() => demoteSection({ port: "54x" })), /^2: --port must be a port number/);
  t.match(usage(() => demoteSection({ host: "db 1" })), /^2: standby_cluster\.host must be a host name/);
  t.match(usage(() => demoteSection({ host: "db1", primarySlotName: "Bad-Slot" })), /^2: standby_cluster\.primary_slot_name/);
  t.match(usage(() => demoteSection({ restoreCommand: "cp a\nrm -rf b" })), /^2: standby_cluster\.restore_command must be a one-line command/);
  t.match(usage(() => demoteSection({ restoreCommand: "x".repeat(2000) })), /^2: --restore-command must be 1 to 1024 characters, got 2000/);
  t.match(usage(() => demoteSection({ host: "" })), /^2: --host must be 1 to 1024 characters, got 0/);
});

t.test("the REST API's config check: demote_cluster is checked on its own and never counted as a config key", async (t) => {
  const none = (): readonly string[] => [];
  const section = { standby_cluster: { host: "10.0.0.5", port: 5433 } };
  const ok = checkConfigChange({ ttl: 30 }, { ...section, demote_cluster: "pg1" }, "patch", none);
  t.same(ok.ok && ok.next, { ttl: 30, ...section }, "the config it leaves has no directive");
  const bad = checkConfigChange({}, { ...section, demote_cluster: ["pg1"] }, "patch", none);
  t.same(!bad.ok && bad.problems, ['demote_cluster must be the name of the lease holder, the primary to demote, got ["pg1"]']);
  const typo = checkConfigChange({}, { ...section, demote_clustr: "pg1" }, "patch", none);
  t.match(!typo.ok && typo.problems.join(), /"demote_clustr" \(did you mean demote_cluster\?\)/, "a near miss of it is refused like any other");
});
