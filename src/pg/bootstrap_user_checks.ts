/**
 * bootstrap.users as configured: the role options PostgreSQL has (they go into SQL, which takes
 * no parameters there) and every problem of the list, named. Creating them: bootstrap_users.ts.
 */
import { quoteLiteral } from "./sql.js";

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
