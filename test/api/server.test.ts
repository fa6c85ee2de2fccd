import t from "tap";
import { cluster, server } from "./fixtures.js";

const authentication = { username: "admin", password: "s3cret" };

t.test("routes the agent adds to the instance are not under the API's authentication or body parser", async (t) => {
  const app = server(cluster(), { authentication });
  app.post("/internal/fenced", async (request) => ({ got: request.body }));
  const answer = await app.inject({ method: "POST", url: "/internal/fenced", headers: { "content-type": "application/json" }, payload: { member: "pg1" } });
  t.equal(answer.statusCode, 200);
  t.same(answer.json(), { got: { member: "pg1" } });
  await app.close();
});

t.test("a body over the limit is refused with 413 in the catalogue's shape", async (t) => {
  const app = server(cluster());
  const answer = await app.inject({ method: "PATCH", url: "/config", headers: { "content-type": "application/json" }, payload: `{"x":"${"a".repeat(1024 * 1024)}"}` });
  t.equal(answer.statusCode, 413);
  t.match(answer.json(), { error: "payloadTooLarge" });
  await app.close();
});
