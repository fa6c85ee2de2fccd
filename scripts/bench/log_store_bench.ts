/**
 * Throughput of the Raft log store's group commit: synced writes of 1 and of 100 entries of 256
 * bytes, about one second each, in a temporary directory removed at the end.
 * Run: node --import tsx scripts/bench/log_store_bench.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { either as E } from "fp-ts";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { LogStore } from "../../src/raft/runtime/log_store.js";
import { type Entry, logIndex, nodeId, term } from "../../src/raft/types.js";

const ENTRY_BYTES = 256;
const DURATION_MS = 1_000;
const BATCH_SIZES = [1, 100] as const;

interface Result {
  readonly batchSize: number;
  readonly writes: number;
  readonly entries: number;
  readonly elapsedMs: number;
}

async function measure(store: LogStore, batchSize: number): Promise<Result> {
  const data = new Uint8Array(ENTRY_BYTES).fill(0x5a);
  const started = performance.now();
  let writes = 0;
  while (performance.now() - started < DURATION_MS) {
    const first = store.lastIndex() + 1;
    const entries: Entry[] = Array.from({ length: batchSize }, (_, i) => ({
      index: logIndex(first + i),
      term: term(1),
      type: "normal",
      timeMs: first + i,
      data,
    }));
    const written = await store.write({ hardState: null, entries, snapshot: null });
    if (E.isLeft(written)) throw new Error(written.left.message);
    writes++;
  }
  return { batchSize, writes, entries: writes * batchSize, elapsedMs: performance.now() - started };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "raftgres-log-store-bench-"));
  try {
    const identity = { clusterId: "bench", nodeId: nodeId("n1") };
    const opened = await LogStore.open(dir, identity, SILENT_LOGGER);
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const { store } = opened.right;
    try {
      for (const batchSize of BATCH_SIZES) {
        const r = await measure(store, batchSize);
        const seconds = r.elapsedMs / 1_000;
        console.log(
          `batches of ${String(r.batchSize).padStart(3)} x ${ENTRY_BYTES} B, sync: ` +
          `${Math.round(r.entries / seconds).toLocaleString("en")} entries/s, ` +
          `${Math.round(r.writes / seconds).toLocaleString("en")} synced writes/s, ` +
          `${((r.elapsedMs / r.writes) * 1_000).toFixed(0)} µs per write`,
        );
      }
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
