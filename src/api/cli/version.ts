/** The CLI's version, printed by `raftgres version` beside each member's agent version. */
export const CLI_VERSION = "0.1.0";
