/**
 * The permanent slots of the config (src/dcs/permanent_slots.ts): what is kept, what is reported
 * instead of thrown, which slots count as retired (and may be dropped), and the plan that
 * slotsFor() hands to syncSlots, over config histories written with real DCS commands.
 */
import t from "tap";
import type { JsonObject } from "../../src/dcs/json.js";
import type { Lsn } from "../../src/dcs/model.js";
import {
  isIgnored,
  PERMANENT_SLOTS_MAX,
  parsePermanentSlots,
  permanentSlotsPlan,
  permanentSlotsProblem,
} from "../../src/dcs/permanent_slots.js";
import { viewScope } from "../../src/dcs/views.js";
import { slotsFor } from "../../src/ha/facts.js";
import { EMPTY_MEMORY } from "../../src/ha/input.js";
import type { LocalPostgres } from "../../src/ha/observation.js";
import { DEFAULT_LOCAL_HA_SETTINGS, resolveHaSettings } from "../../src/ha/settings.js";
import { Driver, m } from "../dcs/fixtures.js";

t.test("parsePermanentSlots() keeps physical and logical slots, sorted by name", async (t) => {
  const parsed = parsePermanentSlots({
    slots: { zeta: { type: "physical" }, cdc: { type: "logical", database: "app", plugin: "test_decoding" } },
  });
  t.same(parsed.slots, [
    { name: "cdc", type: "logical", database: "app", plugin: "test_decoding" },
    { name: "zeta", type: "physical" },
  ]);
  t.same(parsed.problems, []);
  t.same(parsePermanentSlots({}), { slots: [], ignore: [], problems: [] }, "no slots key, no slots");
  t.same(parsePermanentSlots({ slots: null }).slots, [], "slots: null declares none");
});

t.test("parsePermanentSlots() follows Patroni's defaults for the type", async (t) => {
  const parsed = parsePermanentSlots({ slots: { bare: null, empty: {}, guessed: { database: "app", plugin: "pgoutput" }, primary: { type: "physical", cluster_type: "primary" } } });
  t.same(parsed.slots, [
    { name: "bare", type: "physical" },
    { name: "empty", type: "physical" },
    { name: "guessed", type: "logical", database: "app", plugin: "pgoutput" },
    { name: "primary", type: "physical" },
  ]);
  t.same(parsed.problems, []);
  t.same(parsePermanentSlots({ permanent_slots: { old_key: {} } }).slots, [{ name: "old_key", type: "physical" }], "Patroni's older key permanent_slots is read too");
});

t.test("parsePermanentSlots() reports each entry it cannot use with a sentence and keeps the rest", async (t) => {
  const parsed = parsePermanentSlots({
    slots: {
      good: { type: "physical" },
      "Bad-Name": { type: "physical" },
      rg_pg2: { type: "physical" },
      [`x${"y".repeat(63)}`]: {},
      no_plugin: { type: "logical", database: "app" },
      weird: { type: "virtual" },
      standby_only: { type: "physical", cluster_type: "standby" },
      scalar: 7,
      bad_plugin: { type: "logical", database: "app", plugin: "a plugin; drop" },
    },
  });
  t.same(parsed.slots.map((s) => s.name), ["good"], "only the valid entry is kept");
  t.equal(parsed.problems.length, 8, parsed.problems.join("\n"));
  const text = parsed.problems.join("\n");
  t.match(text, /slots\.Bad-Name: slot name "Bad-Name" is not a valid replication slot name: use 1 to 63 lower-case letters, digits and underscores/);
  t.match(text, /slots\.rg_pg2: slot name "rg_pg2" starts with "rg_", the prefix of the slots raftgres keeps for members: choose another name/);
  t.match(text, /slots\.no_plugin: a logical slot needs a database and a plugin/);
  t.match(text, /slots\.weird: type must be "physical" or "logical", not "virtual"/);
  t.match(text, /slots\.standby_only: cluster_type "standby" is not supported \(raftgres keeps every permanent slot in normal and standby clusters alike\)/);
  t.match(text, /slots\.scalar must be an object such as \{type: physical\}/);
  t.match(text, /slots\.bad_plugin: plugin "a plugin; drop" is not a valid output plugin name/);
  t.same(parsePermanentSlots({ slots: ["a"] }).problems, ['slots must be an object of slot names, such as {backup: {type: physical}}, not ["a"]']);
});

t.test("parsePermanentSlots() bounds the number of slots", async (t) => {
  const many: JsonObject = {};
  for (let i = 0; i < PERMANENT_SLOTS_MAX + 3; i++) many[`s${String(i).padStart(3, "0")}`] = {};
  const parsed = parsePermanentSlots({ slots: many });
  t.equal(parsed.slots.length, PERMANENT_SLOTS_MAX);
  t.match(parsed.problems[0], new RegExp(`declares ${PERMANENT_SLOTS_MAX + 3} slots; only the first ${PERMANENT_SLOTS_MAX} by name are kept`));
});

t.test("ignore_slots: matchers on name, type, database and plugin; bad entries reported", async (t) => {
  const parsed = parsePermanentSlots({ ignore_slots: [{ name: "foo" }, { type: "logical", plugin: "wal2json" }, {}, { name: 3 }, { kind: "x" }, "foo"] });
  t.same(parsed.ignore, [{ name: "foo" }, { type: "logical", plugin: "wal2json" }]);
  t.equal(parsed.problems.length, 4, parsed.problems.join("\n"));
  t.match(parsed.problems.join("\n"), /ignore_slots\[2\] matches every slot/);
  t.match(parsed.problems.join("\n"), /ignore_slots\[4\]: unknown field "kind"/);
  const slot = (name: string, type: string, plugin: string | null) => ({ name, type, database: plugin === null ? null : "app", plugin });
  t.ok(isIgnored(parsed.ignore, slot("foo", "physical", null)));
  t.ok(isIgnored(parsed.ignore, slot("cdc", "logical", "wal2json")));
  t.notOk(isIgnored(parsed.ignore, slot("cdc", "logical", "pgoutput")));
  t.notOk(isIgnored(parsed.ignore, slot("bar", "physical", null)));
  t.match(parsePermanentSlots({ ignore_slots: { name: "foo" } }).problems[0], /ignore_slots must be a list/);
});

t.test("permanentSlotsProblem() answers the first problem, null for a good config", async (t) => {
  t.equal(permanentSlotsProblem({ ttl: 5, slots: { backup: { type: "physical" } } }), null);
  t.equal(permanentSlotsProblem({ ttl: 5 }), null);
  t.match(permanentSlotsProblem({ slots: { "x-y": {} } }), /not a valid replication slot name/);
});

/** A bootstrapped scope whose config went through `patches`, in order. */
function history(patches: readonly JsonObject[]): Driver {
  const d = new Driver();
  d.bootstrap();
  for (const value of patches) d.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value });
  return d;
}

function planOf(d: Driver) {
  const scope = d.scope();
  return permanentSlotsPlan(scope.config.value, scope.configHistory);
}

t.test("permanentSlotsPlan(): a slot removed from the config is retired, one never declared is not", async (t) => {
  const d = history([
    { slots: { backup: { type: "physical" }, cdc: { type: "logical", database: "app", plugin: "test_decoding" } } },
    { slots: { backup: null } },
  ]);
  const plan = planOf(d);
  t.same(plan.slots.map((s) => s.name), ["cdc"]);
  t.same(plan.retired, ["backup"], "backup was declared and removed: raftgres may drop it");
  d.ok("api", { kind: "setConfig", expectedVersion: null, mode: "replace", value: { ttl: 30 } });
  t.same(planOf(d).retired, ["backup", "cdc"], "a replacement without slots retires them all");
  d.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { slots: { backup: {} } } });
  t.same(planOf(d).retired, ["cdc"], "declared again, no longer retired");
});

t.test("permanentSlotsPlan(): ignored names and declared-but-broken entries are never retired", async (t) => {
  const d = history([{ slots: { keep: {}, fixme: {} } }, { slots: { keep: null }, ignore_slots: [{ name: "keep" }] }]);
  t.same(planOf(d).retired, [], "keep is ignored, fixme is still declared");
  const broken = permanentSlotsPlan({ slots: { fixme: { type: "logical" } }, ignore_slots: [{ name: "keep" }] }, d.scope().configHistory);
  t.same(broken.retired, [], "a declared slot with a bad entry is reported, not dropped");
  t.equal(broken.problems.length, 1);
});

t.test("slotsFor() carries the member slots and the config's permanent slots to syncSlots", async (t) => {
  const d = history([{ slots: { backup: {}, old: {} } }, { slots: { old: null } }]);
  const view = viewScope(d.scope(), d.nowMs);
  const settings = resolveHaSettings(view.config, DEFAULT_LOCAL_HA_SETTINGS).settings;
  // slotsFor() reads the view only; the local PostgreSQL is a primary for the record.
  const pg = { dataDir: "initialized", systemId: "1", process: "running", role: "primary", timeline: 1, controlState: "in production", walWritten: 5000n as Lsn, walReceived: null, walReplayed: null, streaming: false, upstream: null, problem: null } as LocalPostgres;
  const action = slotsFor({ me: m("pg1"), nowMs: 10_000, view, pg, lease: null, settings, memory: EMPTY_MEMORY, busy: null });
  t.match(action, { kind: "syncSlots", members: ["pg2", "pg3"], permanent: { slots: [{ name: "backup", type: "physical" }], retired: ["old"], problems: [] } });
  const none = slotsFor({ me: m("pg1"), nowMs: 10_000, view: null, pg, lease: null, settings, memory: EMPTY_MEMORY, busy: null });
  t.match(none, { kind: "syncSlots", members: [], permanent: { slots: [], retired: [] } });
});
