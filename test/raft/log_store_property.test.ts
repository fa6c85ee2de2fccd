/**
 * Property: any sequence of valid writes, compactions and reopens leaves the store equal to a
 * deliberately simple in-memory model (an array of entries, a hard state, a snapshot).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { either as E } from "fp-ts";
import t from "tap";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { LogStore, type LogWrite, type StoredState } from "../../src/raft/runtime/log_store.js";
import {
  type Entry,
  type HardState,
  logIndex,
  nodeId,
  type Snapshot,
  term,
} from "../../src/raft/types.js";

const IDENTITY = { clusterId: "property", nodeId: nodeId("n1") };
const VOTES = [null, "n1", "n2", "n3"] as const;

/** Abstract commands, turned into valid writes against the model's state when they run. */
interface Append {
  readonly kind: "append";
  /** Entries to append (0: a hard state change only). */
  readonly count: number;
  /** How far before the end the new entries start (bounded by the commit index). */
  readonly back: number;
  readonly newTerm: boolean;
  readonly vote: number;
  readonly commitAdvance: number;
  readonly seed: number;
}
interface Install {
  readonly kind: "install";
  /** The snapshot index is commit + gap: inside the uncommitted suffix or beyond the log. */
  readonly gap: number;
  readonly count: number;
  readonly seed: number;
}
type Command =
  | Append
  | Install
  | { readonly kind: "compact"; readonly fraction: number }
  | { readonly kind: "reopen" };

const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant("append" as const),
    count: fc.integer({ min: 0, max: 6 }),
    back: fc.integer({ min: 0, max: 5 }),
    newTerm: fc.boolean(),
    vote: fc.integer({ min: 0, max: VOTES.length - 1 }),
    commitAdvance: fc.integer({ min: 0, max: 6 }),
    seed: fc.nat(1000),
  }) },
  { weight: 1, arbitrary: fc.record({
    kind: fc.constant("install" as const),
    gap: fc.integer({ min: 1, max: 8 }),
    count: fc.integer({ min: 0, max: 3 }),
    seed: fc.nat(1000),
  }) },
  { weight: 2, arbitrary: fc.record({
    kind: fc.constant("compact" as const),
    fraction: fc.double({ min: 0, max: 1, noNaN: true }),
  }) },
  { weight: 2, arbitrary: fc.constant({ kind: "reopen" as const }) },
);

interface Model {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
  incarnation: number;
}

const snapshotIndexOf = (model: Model): number => model.snapshot?.meta.index ?? 0;
const lastIndexOf = (model: Model): number => model.entries.at(-1)?.index ?? snapshotIndexOf(model);

function makeEntry(index: number, entryTerm: number, seed: number): Entry {
  return {
    index: logIndex(index),
    term: term(entryTerm),
    type: (index + seed) % 4 === 0 ? "config" : "normal",
    timeMs: 1_000 * index + seed,
    data: new TextEncoder().encode(`${index}/${entryTerm}/${seed}`.repeat(seed % 3)),
  };
}

/** Turns an abstract command into a valid write for the model's current state, and applies it. */
function appendWrite(model: Model, command: Append): LogWrite {
  const previous = model.hardState;
  const newTerm = command.newTerm || previous.term === 0 ? previous.term + 1 : previous.term;
  const canVote = newTerm > previous.term || previous.vote === null;
  const vote = canVote ? VOTES[command.vote]! : previous.vote;
  // Only uncommitted entries may be overwritten (Raft thesis §3.6.2).
  const first = Math.max(
    lastIndexOf(model) + 1 - command.back,
    previous.commit + 1,
    snapshotIndexOf(model) + 1,
  );
  const appended = Array.from({ length: command.count }, (_, i) =>
    makeEntry(first + i, newTerm, command.seed));
  const kept = model.entries.filter((e) => command.count === 0 || e.index < first);
  model.entries = [...kept, ...appended];
  const commit = Math.min(previous.commit + command.commitAdvance, lastIndexOf(model));
  model.hardState = {
    term: term(newTerm),
    vote: vote === null ? null : nodeId(vote),
    commit: logIndex(commit),
  };
  const changed = JSON.stringify(model.hardState) !== JSON.stringify(previous);
  return { hardState: changed ? model.hardState : null, entries: appended, snapshot: null };
}

function installWrite(model: Model, command: Install): LogWrite {
  // Anywhere past the commit index: inside the uncommitted suffix or beyond the last entry.
  const index = model.hardState.commit + command.gap;
  const snapshotTerm = model.hardState.term + 1;
  const snapshot: Snapshot = {
    meta: {
      index: logIndex(index),
      term: term(snapshotTerm),
      timeMs: 1_000 * index,
      confState: {
        members: [{ id: nodeId("n1"), role: "voter", address: `10.0.0.1:${command.seed}` }],
      },
    },
    data: new TextEncoder().encode(`snapshot ${command.seed}`),
  };
  const entries = Array.from({ length: command.count }, (_, i) =>
    makeEntry(index + 1 + i, snapshotTerm, command.seed));
  model.snapshot = snapshot;
  model.entries = entries;
  model.hardState = { term: term(snapshotTerm), vote: null, commit: logIndex(index) };
  return { hardState: model.hardState, entries, snapshot };
}

/** A compaction to somewhere in (snapshot index, commit], or a stale one the store ignores. */
function compaction(model: Model, fraction: number): Snapshot {
  const snapshotIndex = snapshotIndexOf(model);
  const index = snapshotIndex + Math.floor((model.hardState.commit - snapshotIndex) * fraction);
  const covered = index <= snapshotIndex;
  const at = model.entries.find((e) => e.index === index);
  const snapshot: Snapshot = {
    meta: {
      index: logIndex(covered ? Math.max(snapshotIndex - 1, 0) : index),
      term: covered ? term(0) : at!.term,
      timeMs: at?.timeMs ?? 0,
      confState: { members: [] },
    },
    data: new TextEncoder().encode(`compacted at ${index}`),
  };
  if (!covered) {
    model.snapshot = snapshot;
    model.entries = model.entries.filter((e) => e.index > index);
  }
  return snapshot;
}

function plain(state: StoredState | Model): unknown {
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
  return {
    hardState: state.hardState,
    snapshot: state.snapshot === null
      ? null
      : { meta: state.snapshot.meta, data: hex(state.snapshot.data) },
    entries: state.entries.map((e) => ({ ...e, data: hex(e.data) })),
    incarnation: state.incarnation,
  };
}

async function openOk(dir: string): Promise<{ store: LogStore; state: StoredState }> {
  const opened = await LogStore.open(dir, IDENTITY, SILENT_LOGGER);
  if (E.isLeft(opened)) throw new Error(`open failed: ${opened.left.message}`);
  return opened.right;
}

function expectModel(state: StoredState, model: Model, when: string): void {
  if (!isDeepStrictEqual(plain(state), plain(model))) {
    const stored = JSON.stringify(plain(state));
    throw new Error(`${when}: stored ${stored}\nmodel ${JSON.stringify(plain(model))}`);
  }
}

async function run(commands: readonly Command[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "raftgres-log-store-property-"));
  const model: Model = {
    hardState: { term: term(0), vote: null, commit: logIndex(0) },
    snapshot: null,
    entries: [],
    incarnation: 1,
  };
  let { store, state } = await openOk(dir);
  try {
    for (const command of commands) {
      if (command.kind === "reopen") {
        await store.close();
        ({ store, state } = await openOk(dir));
        model.incarnation += 1;
        expectModel(state, model, "after a reopen");
        continue;
      }
      const result = command.kind === "compact"
        ? await store.compact(compaction(model, command.fraction))
        : await store.write(
          command.kind === "append" ? appendWrite(model, command) : installWrite(model, command));
      if (E.isLeft(result)) throw new Error(`${command.kind} failed: ${result.left.message}`);
      if (store.lastIndex() !== lastIndexOf(model)) {
        const expected = lastIndexOf(model);
        throw new Error(`after ${command.kind}: lastIndex ${store.lastIndex()}, model ${expected}`);
      }
    }
    await store.close();
    ({ store, state } = await openOk(dir));
    model.incarnation += 1;
    expectModel(state, model, "at the end");
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

t.test("random writes, compactions and reopens leave the store equal to the model", async (t) => {
  const commands = fc.array(commandArbitrary, { maxLength: 40 });
  await fc.assert(fc.asyncProperty(commands, run), { numRuns: 100 });
  t.pass("every run matched the model");
});
