/**
 * bootstrap.users: which role options go into CREATE ROLE, and every problem of a list named.
 */
import t from "tap";
import { bootstrapUserProblems, roleOption } from "../../src/pg/bootstrap_user_checks.js";

t.test("role options as PostgreSQL has them, normalised; anything else refused", async (t) => {
  t.equal(roleOption("createdb"), "CREATEDB");
  t.equal(roleOption("NoLogin"), "NOLOGIN");
  t.equal(roleOption("connection  limit 5"), "CONNECTION LIMIT 5");
  t.equal(roleOption("valid until '2030-01-01 00:00:00+00'"), "VALID UNTIL '2030-01-01 00:00:00+00'");
  for (const bad of ["createdb; DROP TABLE x", "SUPERUSER PASSWORD 'x'", "valid until '2030'' OR 1=1'", "IN ROLE admin", "connection limit x", ""]) t.equal(roleOption(bad), null, JSON.stringify(bad));
});

t.test("every problem of the users is named at once", async (t) => {
  const problems = bootstrapUserProblems([
    { name: "admin", password: "s3cret", options: ["createrole", "createdb"] },
    { name: "1bad", password: "x", options: [] },
    { name: "postgres", password: "x", options: [] },
    { name: "app", password: "a\nb", options: ["drop database"] },
  ], "bootstrap.users", ["postgres", "replicator"]);
  t.match(problems, [
    /^bootstrap\.users\.1bad: a role name is/,
    /^bootstrap\.users\.postgres: raftgres creates this role itself/,
    /^bootstrap\.users\.app\.password: at most 1000 characters, no control characters/,
    /^bootstrap\.users\.app\.options: "drop database" is not a role option/,
  ]);
  t.equal(problems.length, 4);
  t.same(bootstrapUserProblems([{ name: "admin", password: "", options: ["superuser", "valid until 'infinity'"] }], "bootstrap.users", []), []);
});
