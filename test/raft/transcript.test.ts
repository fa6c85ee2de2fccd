import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { parseTranscript, TranscriptRunner } from "./transcript.js";

const DIR = join(import.meta.dirname, "testdata");
const UPDATE = process.env["UPDATE_TRANSCRIPTS"] === "1";

for (const file of readdirSync(DIR).filter((f) => f.endsWith(".txt")).sort()) {
  t.test(`transcript ${file}`, async (t) => {
    const source = readFileSync(join(DIR, file), "utf8");
    const runner = new TranscriptRunner();
    const rewritten: string[] = [];
    for (const item of parseTranscript(source)) {
      if (item.kind === "comment") {
        rewritten.push(item.line);
        continue;
      }
      const actual = runner.run(item.command);
      if (UPDATE) rewritten.push(item.command, "----", actual, "");
      else t.equal(actual, item.expected, item.command);
    }
    if (UPDATE) writeFileSync(join(DIR, file), rewritten.join("\n").replace(/\n+$/, "\n"));
  });
}
