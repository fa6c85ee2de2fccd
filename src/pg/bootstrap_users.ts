/**
 * bootstrap.users (Patroni 3's; removed in Patroni 4, still in production patroni.yml files): the
 * roles created once, right after the bootstrap, with a password and role options. The options
 * are checked against PostgreSQL's role options — they go into SQL, which takes no parameters
 * here — and the password is sent as its SCRAM verifier, so no log shows it.
 */
import * as E from "fp-ts/lib/Either.js";
import type { PgResult } from "../ha/ports.js";
import { scramVerifier } from "./passfile.js";
import { DONE, failure } from "./results.js";
import type { ResolvedSettings } from "./settings.js";
import { quoteIdent, quoteLiteral, type SqlSession } from "./sql.js";

export interface BootstrapUser {
  readonly name: string;
  readonly password: string;
  /** Role options as Patroni takes them: "createdb", "NOLOGIN", "connection limit 5", "valid until '2030-01-01'". */
  readonly options: readonly string[];
}

export const BOOTSTRAP_USERS_MAX = 100;
const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const FLAGS = ["SUPERUSER", "CREATEDB", "CREATEROLE", "INHERIT", "LOGIN", "REPLICATION", "BYPASSRLS"];
const FLAG_OPTIONS = new Set(FLAGS.flatMap((f) => [f, `NO${f}`]));
const CONNECTION_LIMIT = /^CONNECTION\s+LIMIT\s+(-1|\d{1,9})$/i;
const VALID_UNTIL = /^VALID\s+UNTIL\s+'([0-9A-Za-z :+\-.]{1,40})'$/i;

/** The option as it goes into CREATE ROLE, or null when PostgreSQL has no such role option. */
export function roleOption(option: string): string | null {
  const text = option.trim().replace(/\s+/g, " ");
  if (FLAG_OPTIONS.has(text.toUpperCase())) return text.toUpperCase();
  const limit = CONNECTION_LIMIT.exec(text);
  if (limit !== null) return `CONNECTION LIMIT ${limit[1]}`;
  const until = VALID_UNTIL.exec(text);
  if (until !== null) return `VALID UNTIL ${quoteLiteral(until[1]!)}`;
  return null;
}

/** Every problem of the users as configured at `where` ("bootstrap.users"), named. */
export function bootstrapUserProblems(users: readonly BootstrapUser[], where: string, reserved: readonly string[]): string[] {
  const problems: string[] = [];
  if (users.length > BOOTSTRAP_USERS_MAX) problems.push(`${where}: ${users.length} users; at most ${BOOTSTRAP_USERS_MAX}`);
  for (const user of users) {
    const at = `${where}.${user.name}`;
    if (!ROLE_NAME.test(user.name)) problems.push(`${at}: a role name is 1–63 letters, digits or _, not starting with a digit`);
    if (reserved.includes(user.name)) problems.push(`${at}: raftgres creates this role itself (postgresql.authentication); choose another name`);
    if (user.password.length > 1000 || /[\u0000-\u001f\u007f]/.test(user.password)) problems.push(`${at}.password: at most 1000 characters, no control characters`);
    for (const option of user.options) {
      if (roleOption(option) === null) problems.push(`${at}.options: ${JSON.stringify(option.slice(0, 80))} is not a role option (CREATEDB, NOLOGIN, CONNECTION LIMIT n, VALID UNTIL '…' …)`);
    }
  }
  return problems;
}

/** CREATE ROLE for each user that does not exist yet (a retried bootstrap finds some made). */
export async function createBootstrapUsers(s: ResolvedSettings, session: SqlSession, users: readonly BootstrapUser[]): Promise<PgResult> {
  for (const user of users) {
    const found = await session.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [user.name]);
    if (E.isLeft(found)) return failure("failed", `bootstrap.users: cannot look up role "${user.name}": ${found.left.message}`);
    if (found.right.length > 0) continue;
    const options = user.options.map((o) => roleOption(o));
    if (options.some((o) => o === null)) return failure("failed", `bootstrap.users.${user.name}: an option is not a role option`);
    const login = options.some((o) => o === "LOGIN" || o === "NOLOGIN") ? [] : ["LOGIN"];
    const verifier = user.password === "" ? null : (scramVerifier(user.password) ?? null);
    if (user.password !== "" && verifier === null) return failure("failed", `bootstrap.users.${user.name}: the password must be printable ASCII to be stored as a SCRAM verifier`);
    const password = verifier === null ? [] : [`PASSWORD ${quoteLiteral(verifier)}`];
    const created = await session.query(`CREATE ROLE ${quoteIdent(user.name)} WITH ${[...login, ...(options as string[]), ...password].join(" ")}`);
    if (E.isLeft(created)) return failure("failed", `bootstrap.users: cannot create role "${user.name}": ${created.left.message}`);
    s.logger.info({ role: user.name, options: options as string[] }, "bootstrap.users: role created");
  }
  return DONE;
}
