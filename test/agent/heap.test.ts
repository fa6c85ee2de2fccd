/** The agent's V8 flags reach it wherever it is started from: the binary's shebang carries them. */
import { readFileSync } from "node:fs";
import t from "tap";
import { AGENT_NODE_FLAGS } from "../../src/agent/heap.js";

t.test("the raftgres binary's shebang passes the agent's V8 flags", async (t) => {
  const shebang = readFileSync(new URL("../../src/agent/main.ts", import.meta.url), "utf8").split("\n", 1)[0]!;
  t.equal(shebang, `#!/usr/bin/env -S node ${AGENT_NODE_FLAGS.join(" ")}`);
});
