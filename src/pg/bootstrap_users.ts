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
import { type BootstrapUser, roleOption } from "./bootstrap_user_checks.js";
import { quoteIdent, quoteLiteral, type SqlSession } from "./sql.js";

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
