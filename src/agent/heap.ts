/**
 * The V8 flags a raftgres agent runs with. V8's young generation may grow to 16 MB per
 * semi-space (32 MB and more of RSS) under churn such as a flood of connections refused at once:
 * garbage that is not retained, but that the kernel counts. A node's steady state needs far less;
 * a 4 MB semi-space keeps the peak RSS of such a flood well inside its 50 MB budget
 * (test/raft/transport_flood.test.ts: ≈ 31 MB against ≈ 45 MB), for more, smaller scavenges.
 * --optimize-for-size makes V8 trade a little speed for memory (a heap that grows later, code
 * kept smaller): an idle agent stays under 80 MB of RSS instead of creeping to 85 (bench:idle).
 * V8 sizes its heap when the process starts, so the flag must be on the command line: the
 * binary's shebang carries it (src/agent/main.ts), and every launcher that runs `node … main`
 * itself passes these.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4", "--optimize-for-size"];
