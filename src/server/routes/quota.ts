import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BadInputError } from '../../core/errors.js';
import type { QuotaClock } from '../../quotaclock.js';
import { fingerprint, headerKey, resolveKey } from '../idempotency.js';
import { parseConsumeBody } from '../consume-body.js';
import { toProblem } from '../problem.js';
import { rateLimitHeaders } from '../rate-limit-headers.js';
import {
  BatchItem,
  BatchRequest,
  CheckRequest,
  ConsumeRequest,
  HistoryQuery,
  RefundRequest,
  SubjectParams,
} from '../schemas.js';
import { parse } from '../validate.js';
import type { z } from 'zod';

type Consume = z.output<typeof ConsumeRequest>;
type Check = z.output<typeof CheckRequest>;

const keyHeader = (request: FastifyRequest) => headerKey(request.headers['idempotency-key']);

/** The operations, shared by the single routes and the batch. */
function operations(qc: QuotaClock) {
  return {
    async consume(body: Consume, key: string | undefined) {
      const result = await qc.consume(body.subject, body.feature, body.amount, {
        ...(key === undefined ? {} : { key, fingerprint: fingerprint('consume', body) }),
        ...(body.meta === undefined ? {} : { meta: body.meta }),
      });
      return { subject: body.subject, feature: body.feature, ...result };
    },
    /** Consumes of a batch, in one call to the store; each outcome is an answer or an error. */
    async consumeMany(bodies: readonly Consume[]) {
      const outcomes = await qc.consumeMany(
        bodies.map((body) => ({
          subject: body.subject,
          feature: body.feature,
          amount: body.amount,
          ...(body.key === undefined
            ? {}
            : { key: body.key, fingerprint: fingerprint('consume', body) }),
          ...(body.meta === undefined ? {} : { meta: body.meta }),
        })),
      );
      return outcomes.map((o, i) =>
        o.ok ? { subject: bodies[i]!.subject, feature: bodies[i]!.feature, ...o.result } : o.error,
      );
    },
    check(body: Check) {
      return qc.check(body.subject, body.feature, body.amount);
    },
    refund(subject: string, key: string | undefined) {
      if (key === undefined)
        throw new BadInputError(
          'key: required, the idempotency key of the consume to refund (or the Idempotency-Key header)',
          'key',
        );
      return qc.refund(subject, key);
    },
  };
}

/** The problem object of one batch item, its `where` prefixed with the item's place. */
function problemAt(i: number, e: unknown) {
  const problem = toProblem(e);
  // The store being down is the whole batch's problem, not one item's.
  if (problem.code === 'STORE_UNAVAILABLE') throw e;
  const field = problem.where === undefined || problem.where === 'item' ? '' : `.${problem.where}`;
  return { ...problem, where: `items.${i}${field}` };
}

/**
 * The answers to a batch's items, in order: each item stands alone, and a
 * later one sees the earlier ones' effect. A run of consecutive consumes goes
 * to the store as one consumeMany (one commit), which decides them in the
 * same order; a check or a refund waits for the run before it.
 */
async function answerBatch(
  ops: ReturnType<typeof operations>,
  items: readonly unknown[],
): Promise<unknown[]> {
  const results: unknown[] = new Array(items.length);
  let run: { i: number; body: Consume }[] = [];
  const flush = async () => {
    if (run.length === 0) return;
    const outs = await ops.consumeMany(run.map((r) => r.body));
    run.forEach((r, j) => {
      const out = outs[j]!;
      results[r.i] = out instanceof Error ? problemAt(r.i, out) : out;
    });
    run = [];
  };
  for (const [i, raw] of items.entries()) {
    let item: z.output<typeof BatchItem>;
    try {
      item = parse(BatchItem, raw, 'item');
    } catch (e) {
      results[i] = problemAt(i, e);
      continue;
    }
    if (item.op === 'consume') {
      const { op: _op, ...body } = item;
      run.push({ i, body });
      continue;
    }
    await flush();
    try {
      results[i] =
        item.op === 'check' ? await ops.check(item) : await ops.refund(item.subject, item.key);
    } catch (e) {
      results[i] = problemAt(i, e);
    }
  }
  await flush();
  return results;
}

const withLimits = (
  reply: FastifyReply,
  qc: QuotaClock,
  feature: string,
  r: Parameters<typeof rateLimitHeaders>[1],
) => reply.headers(rateLimitHeaders(feature, r, qc.now()));

/** /v1: consume, check, refund, batch, a subject's status and history. Every decision is 200. */
export const quotaRoutes: FastifyPluginAsync<{ qc: QuotaClock }> = async (app, { qc }) => {
  const ops = operations(qc);

  app.post('/consume', { config: { scope: 'quota:write' } }, async (request, reply) => {
    const body = parseConsumeBody(request.body);
    const key = resolveKey(keyHeader(request), body.key);
    const out = await ops.consume(body, key);
    if (out.replayed) void reply.header('Idempotent-Replayed', 'true');
    withLimits(reply, qc, body.feature, out);
    return out;
  });

  app.post('/check', { config: { scope: 'quota:read' } }, async (request, reply) => {
    const body = parse(CheckRequest, request.body);
    const out = await ops.check(body);
    withLimits(reply, qc, body.feature, out);
    return out;
  });

  app.post('/refund', { config: { scope: 'quota:write' } }, async (request) => {
    const body = parse(RefundRequest, request.body);
    return ops.refund(body.subject, resolveKey(keyHeader(request), body.key));
  });

  app.post('/batch', { config: { scope: 'quota:write' } }, async (request) => {
    if (request.headers['idempotency-key'] !== undefined)
      throw new BadInputError(
        'Idempotency-Key: not taken by /v1/batch; give each item its own "key"',
        'Idempotency-Key',
      );
    const { items } = parse(BatchRequest, request.body);
    return { results: await answerBatch(ops, items) };
  });

  app.get('/subjects/:id', { config: { scope: 'quota:read' } }, async (request) => {
    const { id } = parse(SubjectParams, request.params, 'id');
    // Reading never creates a subject, and an unknown one is 404 (the library's status would show a fresh one).
    await qc.getSubject(id);
    return qc.status(id);
  });

  app.get('/subjects/:id/history', { config: { scope: 'quota:read' } }, async (request) => {
    const { id } = parse(SubjectParams, request.params, 'id');
    const { limit } = parse(HistoryQuery, request.query, 'query');
    await qc.getSubject(id);
    const entries = [...(await qc.history(id))].sort((a, b) =>
      a.start < b.start ? 1 : a.start > b.start ? -1 : 0,
    );
    return limit === undefined ? entries : entries.slice(0, limit);
  });
};
