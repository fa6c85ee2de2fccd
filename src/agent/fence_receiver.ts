/**
 * POST /internal/fenced: a signed report from another member's watchdog that it killed that
 * member's PostgreSQL. Verified over the exact bytes received (HMAC with the cluster secret),
 * then relayed into the log as fenceLease, so the lease is released before its expiry. The fenced
 * member may have led the Raft group: the relay waits out the election of the next leader.
 */
import type { FastifyInstance } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import type { Scope } from "../dcs/model.js";
import type { DcsClient } from "../dcs/client.js";
import { FENCE_REPORT_PATH, FENCE_SIGNATURE_HEADER, type FencedReport, verifyFenceReport } from "../ha/io/fence_report.js";
import type { Logger } from "../lib/logger.js";

/** How long a relayed fence report may wait for the Raft group (a new leader after a crash). */
const FENCE_RELAY_TIMEOUT_MS = 3000;

export interface FenceReceiverOptions {
  readonly scope: Scope;
  readonly me: string;
  readonly secret: string;
  readonly client: DcsClient;
  readonly logger: Logger;
  readonly clock: () => number;
}

export async function relayFence(options: FenceReceiverOptions, report: FencedReport): Promise<E.Either<string, string>> {
  if (report.scope !== options.scope) return E.left(`the report is for scope ${report.scope}, this node serves ${options.scope}`);
  const reason = `the watchdog of ${report.member} killed its PostgreSQL (${report.reason}); relayed by ${options.me}`;
  const deadline = options.clock() + FENCE_RELAY_TIMEOUT_MS;
  for (;;) {
    const command = { kind: "fenceLease" as const, holder: report.member, generation: report.generation, reason };
    const done = await options.client.execute(options.scope, command, { timeoutMs: FENCE_RELAY_TIMEOUT_MS });
    if (E.isRight(done)) return E.right(`released the lease of ${report.member} (generation ${report.generation})`);
    const retriable = done.left.code === "unavailable" || done.left.code === "outcomeUnknown";
    if (!retriable || options.clock() > deadline) return E.left(`${done.left.code}: ${done.left.message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Registers the route in its own context, where JSON bodies stay raw strings. */
export async function registerFenceReceiver(app: FastifyInstance, options: FenceReceiverOptions): Promise<void> {
  await app.register(async (scoped) => {
    scoped.removeContentTypeParser("application/json");
    scoped.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => done(null, body));
    scoped.post(FENCE_REPORT_PATH, async (request, reply) => {
      const signature = request.headers[FENCE_SIGNATURE_HEADER];
      const body = typeof request.body === "string" ? request.body : "";
      const verified = verifyFenceReport(body, typeof signature === "string" ? signature : "", options.secret);
      if (E.isLeft(verified)) {
        options.logger.warn({ from: request.ip }, `refused a fence report: ${verified.left}`);
        return reply.code(401).send({ error: "badSignature", message: verified.left });
      }
      const { member, generation } = verified.right;
      const done = await relayFence(options, verified.right);
      if (E.isRight(done)) {
        options.logger.info({ member, generation }, done.right);
        return reply.code(200).send({ message: done.right });
      }
      options.logger.info({ member, generation }, `a fence report changed nothing (another member may have relayed it first): ${done.left}`);
      return reply.code(409).send({ error: "notReleased", message: done.left });
    });
  });
}
