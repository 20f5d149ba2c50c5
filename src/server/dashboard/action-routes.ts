import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadInputError, QuotaClockError } from '../../core/errors.js';
import type { Limit } from '../../core/plans.js';
import { runScheduledReset } from '../../jobs/reset-all.js';
import type { QuotaClock } from '../../quotaclock.js';
import { toProblem } from '../problem.js';
import { actorOf, field, fields, requireWrite, type DashboardOptions } from './context.js';
import type { PageRenderers } from './page-routes.js';

type Params = { Params: { id: string } };

/** The reason a write was made: required, because it goes into the audit log. */
function reasonOf(body: unknown): string {
  const reason = field(body, 'reason');
  if (!reason)
    throw new BadInputError('reason: required; it is recorded in the audit log', 'reason');
  if (reason.length > 500) throw new BadInputError('reason: at most 500 characters', 'reason');
  return reason;
}

/** "12" → 12, "unlimited" → null, "plan" → undefined (the override is removed). */
export function parseLimitField(text: string): Limit | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'unlimited') return null;
  if (t === 'plan' || t === '') return undefined;
  if (!/^[0-9]{1,12}$/.test(t) || !Number.isSafeInteger(Number(t)))
    throw new BadInputError('limit: expected a whole number ≥ 0, "unlimited" or "plan"', 'limit');
  return Number(t);
}

const subjectUrl = (id: string, done: string) =>
  `/admin/subjects/${encodeURIComponent(id)}?done=${done}`;

/**
 * Runs a write; on a refused one (bad input, a read-only session, an unknown
 * subject) it shows the page again with the error and the error's status,
 * and nothing has been written.
 */
async function write(
  request: FastifyRequest,
  reply: FastifyReply,
  run: () => Promise<string>,
  again: (status: number, message: string) => Promise<FastifyReply>,
): Promise<FastifyReply> {
  try {
    requireWrite(request);
    return reply
      .code(303)
      .header('Cache-Control', 'no-store')
      .redirect(await run());
  } catch (e) {
    if (!(e instanceof QuotaClockError)) throw e;
    const problem = toProblem(e);
    if (problem.status >= 500) throw e;
    return again(
      problem.status,
      problem.status === 403
        ? 'Refused: this session’s key is read-only (admin:read). Nothing was changed.'
        : problem.detail,
    );
  }
}

type Again = (
  request: FastifyRequest,
  reply: FastifyReply,
  id: string,
) => (status: number, text: string) => Promise<FastifyReply>;

/** Every POST that changes something. Each needs admin:write and passes the session key's name as the actor. */
export function actionRoutes(
  app: FastifyInstance,
  opts: DashboardOptions,
  pages: PageRenderers,
): void {
  const subjectAgain: Again = (request, reply, id) => (status, text) =>
    pages.subject(request, reply, id, { status, flash: [{ kind: 'error', text }] });
  subjectSettingRoutes(app, opts.qc, subjectAgain);
  subjectUsageRoutes(app, opts.qc, subjectAgain);
  keyRoutes(app, opts.qc, pages);
  runRoutes(app, opts.qc, pages);
}

/** The subject's plan, its overrides and its suspension. */
function subjectSettingRoutes(app: FastifyInstance, qc: QuotaClock, subjectAgain: Again): void {
  app.post<Params>('/subjects/:id/plan', async (request, reply) => {
    const id = request.params.id;
    return write(
      request,
      reply,
      async () => {
        await qc.setPlan(
          id,
          field(request.body, 'plan'),
          {},
          actorOf(request, reasonOf(request.body)),
        );
        return subjectUrl(id, 'plan.set');
      },
      subjectAgain(request, reply, id),
    );
  });

  app.post<Params>('/subjects/:id/override', async (request, reply) => {
    const id = request.params.id;
    return write(
      request,
      reply,
      async () => {
        const feature = field(request.body, 'feature');
        qc.policy.catalog.assertFeature(feature);
        const limit = parseLimitField(field(request.body, 'limit'));
        const reason = reasonOf(request.body);
        await qc.setOverride(id, feature, limit, {}, actorOf(request, reason));
        return subjectUrl(id, 'override.set');
      },
      subjectAgain(request, reply, id),
    );
  });

  app.post<Params>('/subjects/:id/suspend', async (request, reply) => {
    const id = request.params.id;
    return write(
      request,
      reply,
      async () => {
        const reason = reasonOf(request.body);
        await qc.suspend(id, reason, {}, actorOf(request, reason));
        return subjectUrl(id, 'subject.suspend');
      },
      subjectAgain(request, reply, id),
    );
  });

  app.post<Params>('/subjects/:id/unsuspend', async (request, reply) => {
    const id = request.params.id;
    return write(
      request,
      reply,
      async () => {
        await qc.unsuspend(id, {}, actorOf(request, reasonOf(request.body)));
        return subjectUrl(id, 'subject.unsuspend');
      },
      subjectAgain(request, reply, id),
    );
  });
}

/** A reset of the period's usage, and a refund of one event from the ledger. */
function subjectUsageRoutes(app: FastifyInstance, qc: QuotaClock, subjectAgain: Again): void {
  app.post<Params>('/subjects/:id/reset', async (request, reply) => {
    const id = request.params.id;
    return write(
      request,
      reply,
      async () => {
        const reason = reasonOf(request.body);
        await qc.resetSubject(id, { reason }, actorOf(request, reason));
        return subjectUrl(id, 'subject.reset');
      },
      subjectAgain(request, reply, id),
    );
  });

  app.post<Params>('/subjects/:id/refund', async (request, reply) => {
    const id = request.params.id;
    return write(
      request,
      reply,
      async () => {
        const result = await qc.refund(id, field(request.body, 'key'), {}, actorOf(request));
        if (!result.refunded && result.alreadyRefunded)
          throw new BadInputError('key: this event was already refunded', 'key');
        return subjectUrl(id, 'event.refund');
      },
      subjectAgain(request, reply, id),
    );
  });
}

function keyRoutes(app: FastifyInstance, qc: QuotaClock, pages: PageRenderers): void {
  app.post('/keys', async (request, reply) => {
    try {
      requireWrite(request);
      const created = await qc.keys.create(
        { name: field(request.body, 'name'), scopes: fields(request.body, 'scopes') },
        actorOf(request),
      );
      // Answered here, not redirected: the key is on this page once and never in a URL.
      return pages.keys(request, reply, { created, status: 201 });
    } catch (e) {
      if (!(e instanceof QuotaClockError) || toProblem(e).status >= 500) throw e;
      const p = toProblem(e);
      return pages.keys(request, reply, {
        status: p.status,
        flash: [
          {
            kind: 'error',
            text:
              p.status === 403
                ? 'Refused: this session’s key is read-only (admin:read). Nothing was changed.'
                : p.detail,
          },
        ],
      });
    }
  });

  app.post<Params>('/keys/:id/revoke', async (request, reply) =>
    write(
      request,
      reply,
      async () => {
        await qc.keys.revoke(request.params.id, actorOf(request));
        return '/admin/keys?done=key.revoke';
      },
      (status, text) => pages.keys(request, reply, { status, flash: [{ kind: 'error', text }] }),
    ),
  );
}

/** "Run now": the close under the scheduler's lease. */
function runRoutes(app: FastifyInstance, qc: QuotaClock, pages: PageRenderers): void {
  app.post('/runs/run', async (request, reply) =>
    write(
      request,
      reply,
      async () => {
        // The same path and lease as the scheduler: a close already running elsewhere is not repeated.
        let report;
        try {
          report = await runScheduledReset(qc, { trigger: 'http' });
        } catch (e) {
          // The ledger has the failure and its error; the timeline shows it in red.
          request.log.error({ err: e }, 'dashboard run now failed');
          return '/admin/runs?done=run.failed';
        }
        const done =
          report.outcome === 'lease_held'
            ? 'run.lease_held'
            : report.periods.length
              ? 'run.closed'
              : 'run.nothing';
        return `/admin/runs?done=${done}`;
      },
      (status, text) => pages.runs(request, reply, { status, flash: [{ kind: 'error', text }] }),
    ),
  );
}
