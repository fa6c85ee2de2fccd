/**
 * The passwords PostgreSQL's own programs need go through a password file (libpq's pgpass,
 * PostgreSQL docs §34.16), never into a connection string or onto a command line:
 * - primary_conninfo carries `passfile=<path>`, so the replication password is not in
 *   postgresql.conf's includes, nor in `SHOW primary_conninfo`, nor in the server log, which
 *   logs every changed parameter on a reload;
 * - pg_basebackup and pg_rewind get PGPASSFILE in their environment.
 * The file lives beside the data directory (`<dataDir>.pgpass` by default), never inside it, so
 * pg_basebackup and pg_rewind do not copy it to other members; it is 0600 and owned by the OS
 * user, as libpq requires (it ignores a file others can read). It holds one line per role, for
 * every host, port and database: `*:*:*:user:password`, ':' and '\' escaped with '\'.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { writeFileAtomic } from "./files.js";
import type { ResolvedSettings } from "./settings.js";

/** A field of a pgpass line: ':' and '\' escaped (libpq's passwordFromFile). */
export function pgpassField(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

export function passfileText(s: Pick<ResolvedSettings, "replication" | "superuser">): string {
  return [s.replication, s.superuser].map((c) => `*:*:*:${pgpassField(c.username)}:${pgpassField(c.password)}`).join("\n") + "\n";
}

/** Writes the password file for the programs and the walreceiver (atomically, 0600, the OS user's). */
export async function writePassfile(s: ResolvedSettings): Promise<void> {
  await writeFileAtomic(s.passfile, passfileText(s), s.osUser, 0o600);
}

/** The environment a PostgreSQL program connects with: the password file, no password. */
export function passfileEnv(s: Pick<ResolvedSettings, "passfile">): Readonly<Record<string, string>> {
  return { PGPASSFILE: s.passfile };
}

/** SCRAM's iteration count PostgreSQL 15 uses (scram_iterations appeared in 16). */
const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier of `password` (RFC 5802, RFC 7677), as PostgreSQL stores it: a
 * role created with it never has its password in a statement, so no log_statement or error
 * report can show it. null when the password is not plain printable ASCII: SASLprep, which the
 * server applies first, changes some other passwords, and only the server knows how.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string | null {
  if (!/^[\x20-\x7e]*$/.test(password)) return null;
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, SCRAM_ITERATIONS, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
