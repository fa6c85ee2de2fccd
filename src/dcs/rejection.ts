/**
 * Why a command was refused: a code for programs and a sentence for people, which names the
 * current state ("member pg2 holds the lease until …"), and for switchovers the reason of every
 * candidate (Patroni's bare "412 no good candidates" is a top complaint of its users).
 */
export type RejectionCode =
  | "invalid"
  | "notInitialized"
  | "alreadyInitialized"
  | "unknownMember"
  | "notAuthor"
  | "leaseHeld"
  | "notLeaseHolder"
  | "staleGeneration"
  | "leaseExpired"
  | "versionConflict"
  | "noPrimary"
  | "notPrimary"
  | "alreadyPrimary"
  | "switchoverPending"
  | "noSwitchoverPending"
  | "noCandidate"
  | "timelineNotNewer"
  /** A candidate for the lease whose WAL is off the last holder's history (decide_lease.ts). */
  | "offHistory"
  | "limitReached"
  /** The DCS holds no state for the scope named. */
  | "unknownScope"
  /** Members of the scope still report (their agents run): it cannot be removed under them. */
  | "membersReporting"
  /**
   * Applying the entry failed inside raftgres (a bug, logged at error level with the entry's
   * index): the command is refused on every node and the state is left as it was.
   */
  | "internal";

export interface CandidateProblem {
  readonly member: string;
  readonly reason: string;
}

export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
  /** For switchovers and failovers: each member considered and why it cannot be chosen. */
  readonly candidates?: readonly CandidateProblem[];
}

export function rejection(code: RejectionCode, message: string, candidates?: readonly CandidateProblem[]): Rejection {
  return candidates === undefined ? { code, message } : { code, message, candidates };
}
