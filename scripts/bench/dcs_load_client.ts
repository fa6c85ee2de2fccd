/**
 * The DCS benchmark's client side: one WebSocket per DCS node, proposals sent to the node that
 * hosts each member, answers matched to their sends, latencies and refusals counted. Shared by
 * the steady load (dcs_load.ts) and the agents' load with a failover storm (dcs_agents_load.ts).
 */
import WebSocket from "ws";
import { encodeCommand } from "../../src/dcs/commands.js";
import { corkedSender } from "../../lab/sockets.js";
import { type Planned, setupCommands, type Topology } from "./dcs_bench_workload.js";
import { decodeResponse, encodeRequest, KIND_PROPOSE } from "./raft_bench_protocol.js";

interface InFlight {
  readonly sentNs: bigint;
  readonly measured: boolean;
  readonly host: number;
  readonly resolve: ((r: { ok: boolean; body: Buffer }) => void) | null;
}

export class Load {
  private nextId = 1;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly writers: ((frame: Buffer) => void)[];
  /** Worst latency per 100 ms of send time since the measurement began. */
  readonly windowMaxMs = new Map<number, number>();
  measureBeginNs = 0n;
  readonly latencies: number[] = [];
  readonly byNode: number[][];
  readonly rejected: Record<string, number> = {};
  readonly unavailable: Record<string, number> = {};
  accepted = 0;
  sent = 0;
  warmupProblems = 0;

  constructor(private readonly sockets: readonly WebSocket[]) {
    this.writers = sockets.map((s) => corkedSender(s));
    this.byNode = sockets.map(() => []);
    for (const socket of sockets) socket.on("message", (data: Buffer) => this.onAnswer(data));
  }

  get pending(): number {
    return this.inFlight.size;
  }

  send(planned: Planned, measured: boolean, wait: boolean): Promise<{ ok: boolean; body: Buffer }> | null {
    const frame = encodeRequest(KIND_PROPOSE, this.nextId, encodeCommand(planned));
    let promise: Promise<{ ok: boolean; body: Buffer }> | null = null;
    let resolve: InFlight["resolve"] = null;
    if (wait) promise = new Promise((r) => (resolve = r));
    this.inFlight.set(this.nextId++, { sentNs: process.hrtime.bigint(), measured, host: planned.host, resolve });
    if (measured) this.sent++;
    this.writers[planned.host]!(frame);
    return promise;
  }

  private onAnswer(data: Buffer): void {
    const response = decodeResponse(data);
    const flight = this.inFlight.get(response.id);
    if (flight === undefined) return;
    this.inFlight.delete(response.id);
    flight.resolve?.(response);
    if (!flight.measured) {
      if (!response.ok && flight.resolve === null) this.warmupProblems++;
      return;
    }
    if (response.ok) {
      const ms = Number(process.hrtime.bigint() - flight.sentNs) / 1e6;
      this.latencies.push(ms);
      this.byNode[flight.host]!.push(ms);
      const window = Math.floor(Number(flight.sentNs - this.measureBeginNs) / 1e8);
      this.windowMaxMs.set(window, Math.max(ms, this.windowMaxMs.get(window) ?? 0));
      this.accepted++;
      return;
    }
    const [what, code] = response.body.toString().split(":");
    const counts = what === "rejected" ? this.rejected : this.unavailable;
    counts[code ?? "?"] = (counts[code ?? "?"] ?? 0) + 1;
  }

  close(): void {
    for (const socket of this.sockets) socket.close();
  }

  /** Waits up to `waitMs` for the answers still owed, closes, and returns the latencies sorted. */
  async finish(waitMs: number): Promise<number[]> {
    const waitUntil = Date.now() + waitMs;
    while (this.pending > 0 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));
    this.close();
    return [...this.latencies].sort((a, b) => a - b);
  }
}

/** Bootstraps every scope, its commands in order; returns each scope's lease generation. */
export async function setup(load: Load, topology: Topology): Promise<number[]> {
  const all = setupCommands(topology);
  const perScope = all.length / topology.scopes;
  const generations: number[] = [];
  await Promise.all(Array.from({ length: topology.scopes }, async (_, s) => {
    for (const planned of all.slice(s * perScope, (s + 1) * perScope)) {
      const answer = await load.send(planned, false, true)!;
      if (!answer.ok) throw new Error(`setup: ${planned.command.kind} by ${planned.author} failed: ${answer.body.toString()}`);
      if (planned.command.kind === "acquireLease") generations[s] = answer.body.readDoubleLE(8);
    }
  }));
  return generations;
}

/** What both load generators start with: connections to every node, and the scopes set up. */
export interface OpenedLoad {
  readonly load: Load;
  readonly topology: Topology;
  readonly generations: number[];
  readonly setupMs: number;
}

/**
 * Exits (2) after `deadlineMs` whatever happens, connects to every node's client port, and sets
 * up the scopes and their leases.
 */
export async function openLoad(what: string, spec: { readonly urls: readonly string[]; readonly scopes: number; readonly membersPerScope: number; readonly deadlineMs: number }): Promise<OpenedLoad> {
  setTimeout(() => {
    process.stderr.write(`${what}: still running after ${spec.deadlineMs} ms; giving up\n`);
    process.exit(2);
  }, spec.deadlineMs).unref();
  const sockets = await Promise.all(spec.urls.map(async (url) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return socket;
  }));
  const topology: Topology = { scopes: spec.scopes, membersPerScope: spec.membersPerScope, nodes: sockets.length };
  const load = new Load(sockets);
  const setupStart = process.hrtime.bigint();
  const generations = await setup(load, topology);
  return { load, topology, generations, setupMs: Number(process.hrtime.bigint() - setupStart) / 1e6 };
}
