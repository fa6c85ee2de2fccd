/**
 * bootstrap.users of node.yml (Patroni 3's): `name: {password: …, options: [createdb, …]}` per
 * role, created once after the bootstrap (src/pg/bootstrap_users.ts). Every problem is named at
 * once, under the key the file has.
 */
import { type BootstrapUser, bootstrapUserProblems } from "../pg/bootstrap_user_checks.js";
import type { ConfigReader } from "./config_reader.js";

/** The users of `bootstrap` (its reader); `reserved`: the roles raftgres creates itself. */
export function readBootstrapUsers(bootstrap: ConfigReader, reserved: readonly string[]): BootstrapUser[] {
  const raw = bootstrap.raw()["users"];
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== "object" || Array.isArray(raw)) {
    bootstrap.fail("users", "must be a mapping of role names to {password, options}");
    return [];
  }
  const section = bootstrap.optionalSection("users", Object.keys(raw));
  const users: BootstrapUser[] = [];
  for (const name of Object.keys(raw)) {
    const user = section.optionalSection(name, ["password", "options"]);
    users.push({ name, password: user.optionalString("password") ?? "", options: user.stringList("options") });
  }
  for (const problem of bootstrapUserProblems(users, "users", reserved)) bootstrap.failSentence(bootstrap.sectionPath, problem);
  return users;
}
