/**
 * WAL positions: PostgreSQL prints a pg_lsn as two hexadecimal 32-bit halves, "16/B374D848";
 * the cluster state keeps it as one 64-bit bigint, (high << 32) + low.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Lsn } from "./types.js";

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): E.Either<string, Lsn> {
  const match = LSN_TEXT.exec(text.trim());
  if (match === null) return E.left(`"${text}" is not a WAL position (expected X/Y in hexadecimal)`);
  return E.right(((BigInt(`0x${match[1]!}`) << 32n) + BigInt(`0x${match[2]!}`)) as Lsn);
}

export function formatLsn(lsn: Lsn): string {
  const high = lsn >> 32n;
  const low = lsn & 0xffff_ffffn;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** A nullable pg_lsn column as text (the driver returns pg_lsn as text): null stays null. */
export function lsnOrNull(text: string | null | undefined): Lsn | null {
  if (text === null || text === undefined) return null;
  const parsed = parseLsn(text);
  return E.isRight(parsed) ? parsed.right : null;
}
