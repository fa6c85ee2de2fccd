/**
 * Transcript tests in the etcd-raft "datadriven" style: a scenario file is a list of commands, each
 * followed by `----` and the output it must produce. Run with UPDATE_TRANSCRIPTS=1 to rewrite the
 * expected output, then review the diff like code.
 *
 *   cluster a b c [learners=d] [prevote=false] [checkquorum=false] [election=10] [inflight=256]
 *   add-node d            campaign a            propose a <text>        conf a addVoter|addLearner|remove d
 *   tick a [n]            tick-all [n]          process-ready [a]       deliver [from=a] [to=b] [type=t] [drop]
 *   stabilize [from->to:type ...] (drop matching)   status a              log a                   applied a
 *   isolate a             cut a b               heal                    restart a
 *   compact a             read a <id>           reads a                 transfer a b
 *   crash a (until restart)
 *   unreachable a b       elapse n (tick every node and stabilize, n times)
 *   duplicate n [from=a] [to=b] [type=t] (each matching queued message is queued n times in all)
 */
import { assert } from "../../src/lib/assert.js";
import { decodeConfChange } from "../../src/raft/codec.js";
import { describeConfState } from "../../src/raft/membership.js";
import type { Ready } from "../../src/raft/raw_node.js";
import { type ConfChangeKind, type Entry, type Message, nodeId } from "../../src/raft/types.js";
import { Harness, text } from "./harness.js";

export type TranscriptItem =
  | { readonly kind: "comment"; readonly line: string }
  | { readonly kind: "block"; readonly command: string; readonly expected: string };

export function parseTranscript(source: string): TranscriptItem[] {
  const lines = source.replace(/\n+$/, "").split("\n");
  const items: TranscriptItem[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "" || line.startsWith("#")) {
      items.push({ kind: "comment", line });
      i++;
      continue;
    }
    assert(lines[i + 1] === "----", `line ${i + 2}: expected ---- after command "${line}"`);
    const out: string[] = [];
    i += 2;
    while (i < lines.length && lines[i]!.trim() !== "") out.push(lines[i++]!);
    items.push({ kind: "block", command: line, expected: out.join("\n") });
    if (i < lines.length) i++; // the blank line that ends the block
  }
  return items;
}

function describeEntry(e: Entry): string {
  if (e.type === "config") {
    const change = decodeConfChange(e.data);
    return `${e.index}/${e.term} conf(${change._tag === "Right" ? `${change.right.kind} ${change.right.id}` : "?"})`;
  }
  return `${e.index}/${e.term} ${e.data.length === 0 ? "noop" : JSON.stringify(new TextDecoder().decode(e.data))}`;
}

function describeEntries(entries: readonly Entry[]): string {
  return `[${entries.map(describeEntry).join(", ")}]`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type}`;
  switch (m.type) {
    case "append":
      return `${head} term=${m.term} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=${describeEntries(m.entries)}`;
    case "appendResponse":
      return m.reject ? `${head} term=${m.term} reject index=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} term=${m.term} index=${m.index}`;
    case "vote":
    case "preVote":
      return `${head} term=${m.term} last=${m.index}/${m.logTerm}${m.force ? " force" : ""}`;
    case "voteResponse":
    case "preVoteResponse":
      return `${head} term=${m.term} ${m.reject ? "rejected" : "granted"}`;
    case "heartbeat":
      return `${head} term=${m.term} commit=${m.commit} round=${m.context}${m.force ? " answer" : ""}`;
    case "heartbeatResponse":
      return `${head} term=${m.term} round=${m.context}`;
    case "snapshot":
      return `${head} term=${m.term} snapshot=${m.snapshot!.meta.index}/${m.snapshot!.meta.term} members=${describeConfState(m.snapshot!.meta.confState)}`;
    case "propose":
      return `${head} entries=[${m.entries.map((e) => JSON.stringify(new TextDecoder().decode(e.data))).join(", ")}]`;
    case "readIndex":
      return `${head} id=${m.context}`;
    case "readIndexResponse":
      return `${head} term=${m.term} index=${m.index} id=${m.context}`;
    case "timeoutNow":
      return `${head} term=${m.term}`;
    case "transferLeader":
      return `${head} target=${m.transferTarget}`;
  }
}

function describeReady(id: string, r: Ready): string[] {
  const out = [`${id} ready:`];
  if (r.softState !== null) out.push(`  soft: ${r.softState.role} leader=${r.softState.leader ?? "none"} term=${r.softState.term}`);
  if (r.hardState !== null) out.push(`  hard: term=${r.hardState.term} vote=${r.hardState.vote ?? "none"} commit=${r.hardState.commit}`);
  if (r.snapshot !== null) out.push(`  snapshot: ${r.snapshot.meta.index}/${r.snapshot.meta.term}`);
  if (r.entries.length > 0) out.push(`  entries: ${describeEntries(r.entries)}`);
  if (r.committedEntries.length > 0) out.push(`  apply: ${describeEntries(r.committedEntries)}`);
  for (const m of r.messages) out.push(`  send: ${describeMessage(m)}`);
  for (const s of r.readStates) out.push(`  read: id=${s.requestId} index=${s.index}`);
  if (r.mustSync) out.push("  must sync");
  return out;
}

function options(args: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const arg of args) {
    const [key, value] = arg.split("=");
    if (value !== undefined) map.set(key!, value);
  }
  return map;
}

/** Messages matching the from=, to= and type= options (each optional). */
function matcher(opts: Map<string, string>): (m: Message) => boolean {
  return (m) => (opts.get("from") ?? m.from) === m.from && (opts.get("to") ?? m.to) === m.to && (opts.get("type") ?? m.type) === m.type;
}

export class TranscriptRunner {
  private harness: Harness | null = null;

  private get h(): Harness {
    assert(this.harness !== null, "no cluster yet: start with `cluster`");
    return this.harness;
  }

  run(command: string): string {
    const [verb, ...args] = command.trim().split(/\s+/);
    const out = this.execute(verb!, args);
    return out.length === 0 ? "ok" : out.join("\n");
  }

  private execute(verb: string, args: string[]): string[] {
    const opts = options(args);
    const plain = args.filter((a) => !a.includes("="));
    switch (verb) {
      case "cluster": {
        this.harness = new Harness(plain, {
          learners: opts.get("learners")?.split(",") ?? [],
          tunables: {
            preVote: opts.get("prevote") !== "false",
            checkQuorum: opts.get("checkquorum") !== "false",
            electionTimeoutTicks: Number(opts.get("election") ?? 10),
            maxInflightMessages: Number(opts.get("inflight") ?? 256),
            maxMessageBytes: Number(opts.get("maxmsg") ?? 1024 * 1024),
            maxInflightBytes: Math.max(Number(opts.get("maxmsg") ?? 0), 32 * 1024 * 1024),
          },
        });
        return [];
      }
      case "add-node":
        this.h.addNode(nodeId(plain[0]!));
        return [];
      case "campaign":
        this.h.get(plain[0]!).node.campaign();
        return [];
      case "propose": {
        const result = this.h.get(plain[0]!).node.propose(text(plain.slice(1).join(" ")));
        return [result.ok ? (result.index === null ? "forwarded" : `index ${result.index}`) : `refused: ${result.reason}`];
      }
      case "conf": {
        const node = this.h.get(plain[0]!).node;
        const result = node.proposeConfChange({ kind: plain[1] as ConfChangeKind, id: nodeId(plain[2]!), address: `${plain[2]}:7000` });
        return [result.ok ? `index ${result.index}` : `refused: ${result.reason} (${node.lastConfChangeRefusal()})`];
      }
      case "tick":
        this.h.tick(plain[0]!, Number(plain[1] ?? 1));
        return [];
      case "tick-all":
        this.h.tickAll(Number(plain[0] ?? 1));
        return [];
      case "elapse":
        return this.elapse(Number(plain[0] ?? 1));
      case "process-ready":
        return this.processReady(plain[0]);
      case "deliver":
        return this.deliver(opts, args.includes("drop"));
      case "duplicate":
        return this.h.duplicate(matcher(opts), Number(plain[0])).map((m) => `${plain[0]}× ${describeMessage(m)}`);
      case "stabilize":
        return this.stabilize(plain);
      case "status":
        return this.status(plain[0]!);
      case "log":
        return [describeEntries(this.h.get(plain[0]!).node.logEntries())];
      case "applied":
        return [this.h.appliedData(plain[0]!).join(", ") || "(nothing)"];
      case "isolate":
        this.h.isolate(plain[0]!);
        return [];
      case "cut":
        this.h.cut(plain[0]!, plain[1]!);
        return [];
      case "heal":
        this.h.heal();
        return [];
      case "crash":
        this.h.crash(plain[0]!);
        return [];
      case "restart":
        this.h.restart(plain[0]!);
        return [];
      case "compact":
        return [this.compact(plain[0]!)];
      case "read":
        return [this.h.get(plain[0]!).node.readIndex(Number(plain[1])) ? "requested" : "refused: no leader"];
      case "reads":
        return this.h.get(plain[0]!).readStates.splice(0).map((s) => `id=${s.requestId} index=${s.index}`);
      case "transfer":
        this.h.get(plain[0]!).node.transferLeader(nodeId(plain[1]!));
        return [];
      case "unreachable":
        this.h.get(plain[0]!).node.reportUnreachable(nodeId(plain[1]!));
        return [];
      default:
        throw new Error(`unknown transcript command: ${verb}`);
    }
  }

  private processReady(only: string | undefined): string[] {
    const out: string[] = [];
    for (const h of this.h.nodes.values()) {
      if (only !== undefined && h.id !== only) continue;
      if (!h.node.hasReady()) continue;
      const ready = h.node.ready();
      out.push(...describeReady(h.id, ready));
      // Let the harness persist and apply it as a runtime would.
      this.h.applyReady(h, ready);
    }
    return out;
  }

  private deliver(opts: Map<string, string>, drop: boolean): string[] {
    const match = matcher(opts);
    if (drop) return this.h.dropWhere(match).map((m) => `dropped: ${describeMessage(m)}`);
    return this.h.deliver(match).map(describeMessage);
  }

  /**
   * Ready and deliver until quiet. Patterns `from->to:type` (each part may be `*`) drop the
   * matching messages instead of delivering them, e.g. `stabilize e->*:append`.
   */
  private stabilize(dropPatterns: readonly string[] = []): string[] {
    const drops = dropPatterns.map((p) => {
      const match = /^([^-]+)->([^:]+):(\w+)$/.exec(p);
      assert(match !== null, `bad drop pattern ${p}: use from->to:type`);
      return { from: match[1]!, to: match[2]!, type: match[3]! };
    });
    const dropped = (m: Message): boolean =>
      drops.some((d) => (d.from === "*" || d.from === m.from) && (d.to === "*" || d.to === m.to) && (d.type === "*" || d.type === m.type));
    const out: string[] = [];
    for (let round = 0; round < 200; round++) {
      this.h.processReady();
      if (this.h.queue.length === 0) return out;
      out.push(...this.h.dropWhere(dropped).map((m) => `dropped: ${describeMessage(m)}`));
      out.push(...this.h.deliver().map(describeMessage));
    }
    throw new Error("did not stabilize");
  }

  /** Ticks every node and stabilizes, n times; reports who leads after each change. */
  private elapse(n: number): string[] {
    const out: string[] = [];
    let last = "";
    for (let i = 0; i < n; i++) {
      this.h.tickAll(1);
      this.stabilize();
      const leaders = [...this.h.nodes.values()]
        .filter((node) => !this.h.down.has(node.id))
        .map((node) => node.node.status())
        .filter((s) => s.role === "leader")
        .map((s) => `${s.id}@${s.term}`)
        .join(",") || "none";
      if (leaders !== last) out.push(`tick ${i + 1}: leader ${leaders}`);
      last = leaders;
    }
    return out;
  }

  private status(id: string): string[] {
    const s = this.h.get(id).node.status();
    const out = [`${id}: ${s.role} term=${s.term} vote=${s.vote ?? "none"} leader=${s.leader ?? "none"} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} members=${describeConfState(s.confState)}`];
    for (const p of s.peers) out.push(`  ${p.id}: ${p.state} match=${p.match} next=${p.next}${p.recentActive ? "" : " inactive"}`);
    return out;
  }

  private compact(id: string): string {
    const h = this.h.get(id);
    const snapshot = h.node.createSnapshot(text(`snapshot of ${id} at ${h.node.status().applied}`));
    if (snapshot === null) return "no snapshot: one from the leader is being installed";
    h.node.compact(snapshot);
    h.durable = { ...h.durable, snapshot, entries: h.durable.entries.filter((e) => e.index > snapshot.meta.index) };
    return `compacted to ${snapshot.meta.index}/${snapshot.meta.term}`;
  }
}
