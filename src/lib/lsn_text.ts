/**
 * A WAL position as PostgreSQL writes a pg_lsn: the high and low 32 bits in upper-case hex,
 * without leading zeros ("0/401D188"), as Patroni's format_lsn writes it too
 * (patroni/postgresql/misc.py).
 */
import { assert } from "./assert.js";

const LSN_MAX = (1n << 64n) - 1n;

export function lsnText(lsn: bigint): string {
  assert(lsn >= 0n && lsn <= LSN_MAX, () => `an LSN is an unsigned 64-bit number, got ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
