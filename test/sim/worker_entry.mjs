// Worker threads do not inherit the TypeScript loader in Node 20: register tsx, then run cli.ts.
import { register } from "tsx/esm/api";

register();
await import("./cli.ts");
