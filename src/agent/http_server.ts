/**
 * The agent's HTTP endpoint, minimal until the REST API issue: the node's status as JSON,
 * Patroni's two main health checks (GET /primary, GET /replica: 200 or 503, so HAProxy's
 * `option httpchk` works), and the receiver of fence reports from other members' watchdogs.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { either as E } from "fp-ts";
import type { Logger } from "../lib/logger.js";
import { FENCE_REPORT_BYTES_MAX, FENCE_REPORT_PATH, FENCE_SIGNATURE_HEADER, type FencedReport, verifyFenceReport } from "../ha/io/fence_report.js";

export interface NodeEndpoints {
  /** The node's status document. */
  status(): unknown;
  /** Holds the lease and runs as the primary. */
  isPrimary(): boolean;
  /** Runs as a replica (streaming or not) of the current primary. */
  isReplica(): boolean;
  /** A verified fence report: release the fenced member's lease; the answer's message for the log. */
  fenced(report: FencedReport): Promise<E.Either<string, string>>;
}

export async function startHttpServer(host: string, port: number, secret: string, node: NodeEndpoints, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: FENCE_REPORT_BYTES_MAX });
  // Fence reports are verified over their exact bytes: keep bodies as strings.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => done(null, body));
  app.get("/status", async () => node.status());
  app.get("/", async () => node.status());
  for (const [path, check] of [["/primary", () => node.isPrimary()], ["/replica", () => node.isReplica()]] as const) {
    const answer = async (_request: unknown, reply: { code(n: number): { send(body: unknown): unknown } }) => reply.code(check() ? 200 : 503).send(node.status());
    app.get(path, answer);
    app.options(path, answer);
  }
  app.post(FENCE_REPORT_PATH, async (request, reply) => {
    const signature = request.headers[FENCE_SIGNATURE_HEADER];
    const body = typeof request.body === "string" ? request.body : "";
    const verified = verifyFenceReport(body, typeof signature === "string" ? signature : "", secret);
    if (E.isLeft(verified)) {
      logger.warn({ from: request.ip }, `refused a fence report: ${verified.left}`);
      return reply.code(401).send({ error: verified.left });
    }
    const done = await node.fenced(verified.right);
    if (E.isRight(done)) {
      logger.info({ member: verified.right.member, generation: verified.right.generation }, done.right);
      return reply.code(200).send({ message: done.right });
    }
    logger.info({ member: verified.right.member, generation: verified.right.generation }, `a fence report changed nothing (another member may have relayed it first): ${done.left}`);
    return reply.code(409).send({ error: done.left });
  });
  await app.listen({ host, port });
  return app;
}
