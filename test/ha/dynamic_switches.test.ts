/**
 * The cluster's postgresql.use_pg_rewind and use_slots drive decide() through the settings of
 * each cycle (src/ha/settings.ts resolveHaSettings), node.yml's own value winning: a diverged
 * former primary is reinitialized instead of rewound, and a replica keeps no slots.
 */
import t from "tap";
import type { JsonObject } from "../../src/dcs/json.js";
import type { Lsn } from "../../src/dcs/model.js";
import { decide } from "../../src/ha/decide.js";
import { DEFAULT_LOCAL_HA_SETTINGS, type LocalHaSettings, resolveHaSettings } from "../../src/ha/settings.js";
import { Driver, input, m, PRIMARY, SCOPE, status, summary } from "./fixtures.js";

/** pg1 primary on timeline 2 (promoted at 500); pg2 a former primary that wrote past the fork. */
function diverged(config: JsonObject): Driver {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  d.ok("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 500n as Lsn, reason: "failover", newPrimary: m("pg1") });
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", timeline: 2, walWritten: 5000n as Lsn }) });
  d.ok("pg1", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { postgresql: config } });
  return d;
}

function settingsOf(d: Driver, local: Partial<LocalHaSettings> = {}) {
  const config = d.machine.state.scopes.get(SCOPE)!.config;
  return resolveHaSettings(config, { ...DEFAULT_LOCAL_HA_SETTINGS, ...local }).settings;
}

const stoppedPrimary = { ...PRIMARY, process: "stopped" as const, controlState: "shut down" as const, checkpointLsn: 600n as Lsn };

t.test("edit-config use_pg_rewind: false makes a diverged member reinitialize instead of rewinding", async (t) => {
  const off = diverged({ use_pg_rewind: false });
  const decided = decide(input(off, "pg2", { pg: stoppedPrimary, settings: settingsOf(off) }));
  t.same(summary(decided.actions), ["reinit<pg1"]);
  t.match(decided.detail, /use_pg_rewind is off/, "and says why");
  const on = diverged({ use_pg_rewind: true });
  t.same(summary(decide(input(on, "pg2", { pg: stoppedPrimary, settings: settingsOf(on) })).actions), ["rewind<pg1"], "on: it rewinds");
  t.same(summary(decide(input(off, "pg2", { pg: stoppedPrimary, settings: settingsOf(off, { usePgRewind: true }) })).actions), ["rewind<pg1"], "node.yml's use_pg_rewind: true wins over the cluster's");
});

t.test("edit-config use_slots: false: a streaming replica keeps no slots", async (t) => {
  const off = diverged({ use_slots: false });
  t.same(summary(decide(input(off, "pg2", { settings: settingsOf(off) })).actions).filter((a) => a.startsWith("syncSlots")), ["syncSlots:"], "no slots kept: those made while it was on are dropped");
  const on = diverged({});
  t.same(summary(decide(input(on, "pg2", { settings: settingsOf(on) })).actions).filter((a) => a.startsWith("syncSlots")), ["syncSlots:pg1,pg3"], "unset: a slot for each other member");
});
