/**
 * Command envelopes written byte by byte in borsh (the wire form of src/dcs/commands.ts), for
 * what encodeCommand refuses to write: a buggy or hostile proposer, or an older node, could still
 * put such bytes in the log, and every node must refuse them the same way. The codec test checks
 * that these bytes equal encodeCommand's for valid commands.
 */

/** Little-endian borsh, appended chunk by chunk (a 10 MB string is one chunk). */
export class BorshWriter {
  private readonly chunks: Buffer[] = [];

  u8(value: number): this {
    this.chunks.push(Buffer.of(value));
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.chunks.push(b);
    return this;
  }

  u64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(value);
    this.chunks.push(b);
    return this;
  }

  f64(value: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.chunks.push(b);
    return this;
  }

  string(value: string): this {
    const bytes = Buffer.from(value, "utf8");
    this.u32(bytes.length);
    this.chunks.push(bytes);
    return this;
  }

  optionF64(value: number | null): this {
    return value === null ? this.u8(0) : this.u8(1).f64(value);
  }

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
}

/** The envelope's head: schema version 1, scope, author, then the command's variant index. */
export function envelope(scope: string, author: string, variant: number): BorshWriter {
  return new BorshWriter().u8(1).string(scope).string(author).u8(variant);
}

/** setConfig (variant 6) whose JSON text is whatever the caller says. */
export function rawSetConfig(json: string, options: { scope?: string; author?: string; expectedVersion?: number | null; replace?: boolean } = {}): Uint8Array {
  return envelope(options.scope ?? "main", options.author ?? "api:mallory", 6).optionF64(options.expectedVersion ?? null).bool(options.replace ?? false).string(json).bytes();
}

/** acquireLease (variant 3). */
export function rawAcquireLease(member: string, ttlMs: number, options: { scope?: string; author?: string } = {}): Uint8Array {
  return envelope(options.scope ?? "main", options.author ?? member, 3).string(member).u32(ttlMs).bytes();
}

/** renewLease (variant 4), generation as any f64. */
export function rawRenewLease(member: string, ttlMs: number, generation: number): Uint8Array {
  return envelope("main", member, 4).string(member).u32(ttlMs).f64(generation).bytes();
}

/** removeMember (variant 2). */
export function rawRemoveMember(name: string, options: { scope?: string; author?: string } = {}): Uint8Array {
  return envelope(options.scope ?? "main", options.author ?? "api:mallory", 2).string(name).bytes();
}

/** setSyncState (variant 10). */
export function rawSetSyncState(leader: string, standbys: readonly string[], quorum: number): Uint8Array {
  const w = envelope("main", leader, 10).u8(0).u8(1).string(leader).u32(standbys.length);
  for (const standby of standbys) w.string(standby);
  return w.u32(quorum).bytes();
}

/** requestSwitchover (variant 7) with a scheduled time of any f64. */
export function rawScheduledSwitchover(scheduledAtMs: number): Uint8Array {
  return envelope("main", "api:mallory", 7).u8(0).u8(0).optionF64(scheduledAtMs).bytes();
}

/** A JSON object nested `depth` levels under the key "a", written without recursion. */
export function nestedJsonText(depth: number): string {
  return `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;
}

/** The same as a value, built iteratively. */
export function nestedObject(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let current = root;
  for (let i = 1; i < depth; i++) {
    const next: Record<string, unknown> = {};
    current["a"] = next;
    current = next;
  }
  return root;
}
