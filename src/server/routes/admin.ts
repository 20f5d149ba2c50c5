import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/admin-types.js';
import { NotFoundError, QuotaClockError } from '../../core/errors.js';
import type { QuotaClock } from '../../quotaclock.js';
import {
  AuditQuery,
  CloseRequest,
  CreateKeyRequest,
  CreateSubjectRequest,
  PageQuery,
  PatchSubjectRequest,
  ReportQuery,
  ResetSubjectRequest,
  RunsQuery,
  SubjectsQuery,
  SuspendRequest,
} from '../admin-schemas.js';
import { SubjectParams } from '../schemas.js';
import { parse } from '../validate.js';

/**
 * The jobs an admin can start over HTTP. They are handed in by whoever puts
 * the process together (`serve`), so the server needs no notify or report
 * code of its own, and they run exactly as from the CLI: the close under the
 * same lease, with its notifications.
 */
export interface AdminJobs {
  /** The close with catch-up; outcome 'lease_held' when another close is running. */
  close(dryRun: boolean): Promise<{ outcome: string; leaseHolder?: string }>;
  verify(): Promise<unknown>;
  report(period: string | undefined): Promise<unknown>;
}

const actorOf = (request: FastifyRequest, reason?: string): Actor => ({
  actor: request.apiKey?.name ?? 'unknown',
  ...(reason ? { reason } : {}),
});

const READ = { config: { scope: 'admin:read' as const } };
const WRITE = { config: { scope: 'admin:write' as const } };

type AdminApp = Parameters<FastifyPluginAsync>[0];

const subjectId = (request: FastifyRequest) => parse(SubjectParams, request.params, 'id').id;

/** /v1/admin: every write passes the key's name as the audit actor. */
export const adminRoutes: FastifyPluginAsync<{ qc: QuotaClock; jobs?: AdminJobs }> = async (
  app,
  { qc, jobs },
) => {
  app.get('/plans', READ, async () => qc.plans());
  subjectReadRoutes(app, qc);
  subjectWriteRoutes(app, qc);
  jobRoutes(app, qc, jobs);
  keyAndAuditRoutes(app, qc);
};

function subjectReadRoutes(app: AdminApp, qc: QuotaClock): void {
  app.get('/subjects', READ, async (request) => {
    const q = parse(SubjectsQuery, request.query, 'query');
    return qc.listSubjects({
      ...(q.after ? { after: q.after } : {}),
      ...(q.limit ? { limit: q.limit } : {}),
      ...(q.plan ? { plan: q.plan } : {}),
      ...(q.q ? { q: q.q } : {}),
    });
  });

  app.get('/subjects/:id', READ, async (request) => qc.getSubject(subjectId(request)));

  app.get('/subjects/:id/events', READ, async (request) => {
    const id = subjectId(request);
    const q = parse(PageQuery, request.query, 'query');
    await qc.getSubject(id);
    return qc.subjectEvents(id, {
      ...(q.after ? { after: q.after } : {}),
      ...(q.limit ? { limit: q.limit } : {}),
    });
  });
}

function subjectWriteRoutes(app: AdminApp, qc: QuotaClock): void {
  app.post('/subjects', WRITE, async (request, reply) => {
    const body = parse(CreateSubjectRequest, request.body);
    if (body.plan !== undefined) qc.policy.catalog.assertPlan(body.plan, 'plan');
    const subject = await qc.addSubject(body, {}, actorOf(request));
    return reply.code(201).send(subject);
  });

  app.patch('/subjects/:id', WRITE, async (request) => {
    const id = subjectId(request);
    const body = parse(PatchSubjectRequest, request.body);
    // Everything is checked before the first write, so a bad field changes nothing.
    if (body.plan !== undefined) qc.policy.catalog.assertPlan(body.plan, 'plan');
    for (const feature of Object.keys(body.overrides ?? {}))
      qc.policy.catalog.assertFeature(feature, `overrides.${feature}`);
    const actor = actorOf(request, body.reason);
    const patch = {
      ...(body.timeZone !== undefined ? { timeZone: body.timeZone } : {}),
      ...(body.email !== undefined ? { email: body.email } : {}),
      ...(body.name !== undefined ? { displayName: body.name } : {}),
    };
    let subject = await qc.getSubject(id);
    if (Object.keys(patch).length > 0) subject = await qc.updateSubject(id, patch, actor);
    if (body.plan !== undefined && body.plan !== subject.plan)
      subject = await qc.setPlan(id, body.plan, {}, actor);
    for (const [feature, limit] of Object.entries(body.overrides ?? {}))
      subject = await qc.setOverride(id, feature, limit === 'plan' ? undefined : limit, {}, actor);
    return subject;
  });

  app.post('/subjects/:id/suspend', WRITE, async (request) => {
    const body = parse(SuspendRequest, request.body ?? {});
    return qc.suspend(subjectId(request), body.reason, {}, actorOf(request, body.reason));
  });

  app.post('/subjects/:id/unsuspend', WRITE, async (request) =>
    qc.unsuspend(subjectId(request), {}, actorOf(request)),
  );

  app.post('/subjects/:id/reset', WRITE, async (request) => {
    const id = subjectId(request);
    const body = parse(ResetSubjectRequest, request.body);
    await qc.getSubject(id);
    return qc.resetSubject(
      id,
      { reason: body.reason, dryRun: body.dryRun },
      actorOf(request, body.reason),
    );
  });
}

/** The run ledger and the jobs (close, verify, report), run as from the CLI. */
function jobRoutes(app: AdminApp, qc: QuotaClock, jobs: AdminJobs | undefined): void {
  const needJobs = (): AdminJobs => {
    if (!jobs) throw new QuotaClockError('NOT_SUPPORTED', 'jobs are not available in this server');
    return jobs;
  };

  app.get('/runs', READ, async (request) => {
    const q = parse(RunsQuery, request.query, 'query');
    return (await qc.store()).listRuns(q.limit ?? 50);
  });

  app.get('/runs/:id', READ, async (request) => {
    const { id } = request.params as { id: string };
    const run = await (await qc.store()).getRun(id);
    if (!run) throw new NotFoundError(`no run "${id}" in the ledger`, 'id');
    return run;
  });

  app.post('/reset', WRITE, async (request) => {
    const { dryRun } = parse(CloseRequest, request.body ?? {});
    const report = await needJobs().close(dryRun);
    if (report.outcome === 'lease_held')
      throw new QuotaClockError(
        'LEASE_HELD',
        `another close holds the lease (${report.leaseHolder ?? 'unknown holder'}); it will do the work`,
      );
    return report;
  });

  // A check: it changes no data, so admin:read may run it.
  app.post('/verify', READ, async () => needJobs().verify());

  app.get('/report', READ, async (request) => {
    const q = parse(ReportQuery, request.query, 'query');
    return needJobs().report(q.period);
  });
}

function keyAndAuditRoutes(app: AdminApp, qc: QuotaClock): void {
  app.get('/audit', READ, async (request) => {
    const q = parse(AuditQuery, request.query, 'query');
    return qc.audit.list({
      ...(q.after ? { after: q.after } : {}),
      ...(q.limit ? { limit: q.limit } : {}),
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.subject ? { subject: q.subject } : {}),
    });
  });

  app.get('/keys', READ, async () => qc.keys.list());

  app.post('/keys', WRITE, async (request, reply) => {
    const body = parse(CreateKeyRequest, request.body);
    return reply.code(201).send(await qc.keys.create(body, actorOf(request)));
  });

  app.delete('/keys/:id', WRITE, async (request, reply) => {
    const { id } = request.params as { id: string };
    await qc.keys.revoke(id, actorOf(request));
    return reply.code(204).send();
  });
}
