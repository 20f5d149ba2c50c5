import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NewApiKey } from '../../core/admin-types.js';
import { BadInputError } from '../../core/errors.js';
import { queryParam, sendPage, viewContext, type DashboardOptions } from './context.js';
import type { Flash } from './layout.js';
import {
  auditData,
  overviewData,
  plansData,
  runsData,
  subjectDaily,
  subjectData,
  subjectsData,
} from './loaders.js';
import { CHART_SIZES, dailyChartSvg, type ChartSize } from './charts.js';
import { renderAudit } from './pages/audit.js';
import { renderKeys } from './pages/keys.js';
import { renderOverview } from './pages/overview.js';
import { renderPlans } from './pages/plans.js';
import { renderRuns } from './pages/runs.js';
import { renderSubject } from './pages/subject.js';
import { renderSubjects } from './pages/subjects.js';

/** What a finished write says on the page it returns to (?done=…): fixed texts, nothing from the URL is echoed. */
export const DONE: Readonly<Record<string, string>> = {
  'plan.set': 'Plan changed.',
  'override.set': 'Limit overridden.',
  'subject.suspend': 'Subject suspended.',
  'subject.unsuspend': 'Subject unsuspended.',
  'subject.reset': 'Usage reset for this period.',
  'event.refund': 'Event refunded.',
  'key.revoke': 'Key revoked.',
  'run.closed': 'Close finished.',
  'run.nothing': 'Nothing to close: no period has ended since the last run.',
  'run.lease_held':
    'Another close holds the lease, so nothing ran here. Try again when it has finished.',
  'run.failed': 'The close failed. Its error is in the timeline; fix the cause and run it again.',
};

const DONE_KIND: Readonly<Record<string, Flash['kind']>> = {
  'run.lease_held': 'warn',
  'run.failed': 'error',
};

function doneFlash(request: FastifyRequest): Flash[] {
  const text = DONE[queryParam(request, 'done')];
  if (!text) return [];
  return [{ kind: DONE_KIND[queryParam(request, 'done')] ?? 'ok', text }];
}

export interface Rendered {
  readonly flash?: readonly Flash[];
  readonly status?: number;
}

function positiveInt(text: string, where: string): number {
  if (!/^[0-9]{1,9}$/.test(text) || Number(text) < 1)
    throw new BadInputError(`${where}: expected a whole number ≥ 1`, where);
  return Number(text);
}

/**
 * The page renderers, callable from the GET routes and from a failed write
 * (which shows the same page again, with its error and status).
 */
export function pageRenderers(opts: DashboardOptions) {
  const { qc } = opts;
  return {
    async subject(request: FastifyRequest, reply: FastifyReply, id: string, r: Rendered = {}) {
      const ctx = viewContext(request, qc);
      const checkFeature = queryParam(request, 'check');
      const check = checkFeature
        ? {
            feature: checkFeature,
            amount: queryParam(request, 'amount')
              ? positiveInt(queryParam(request, 'amount'), 'amount')
              : 1,
          }
        : null;
      const after = queryParam(request, 'events_after') || undefined;
      const view = await subjectData(qc, id, { eventsAfter: after, check }, ctx.nowMs);
      return sendPage(reply, request, {
        title: id,
        nav: 'subjects',
        body: await renderSubject(view, ctx),
        flash: [...doneFlash(request), ...(r.flash ?? [])],
        ...(r.status ? { status: r.status } : {}),
      });
    },
    async keys(
      request: FastifyRequest,
      reply: FastifyReply,
      r: Rendered & { created?: NewApiKey } = {},
    ) {
      const ctx = viewContext(request, qc);
      const keys = await qc.keys.list();
      const body = renderKeys(
        { keys, created: r.created ?? null, currentKeyId: request.adminSession!.key.id },
        ctx,
      );
      return sendPage(reply, request, {
        title: 'API keys',
        nav: 'keys',
        body,
        flash: [...doneFlash(request), ...(r.flash ?? [])],
        ...(r.status ? { status: r.status } : {}),
      });
    },
    async runs(request: FastifyRequest, reply: FastifyReply, r: Rendered = {}) {
      const ctx = viewContext(request, qc);
      const view = await runsData(qc, queryParam(request, 'preview') === '1', ctx.nowMs);
      return sendPage(reply, request, {
        title: 'Runs',
        nav: 'runs',
        body: renderRuns(view, ctx),
        flash: [...doneFlash(request), ...(r.flash ?? [])],
        ...(r.status ? { status: r.status } : {}),
      });
    },
  };
}

export type PageRenderers = ReturnType<typeof pageRenderers>;

/** Every GET page; each reads through the facade and writes nothing. */
export function pageRoutes(
  app: FastifyInstance,
  opts: DashboardOptions,
  pages: PageRenderers,
): void {
  const { qc } = opts;

  app.get('/', async (request, reply) => {
    const ctx = viewContext(request, qc);
    const view = await overviewData(qc, ctx.nowMs);
    return sendPage(reply, request, {
      title: 'Overview',
      nav: 'overview',
      body: await renderOverview(view, ctx),
    });
  });

  app.get('/subjects', async (request, reply) => {
    const ctx = viewContext(request, qc);
    const sort = queryParam(request, 'sort') === 'use' ? 'use' : 'id';
    const plan = queryParam(request, 'plan');
    const view = await subjectsData(
      qc,
      {
        q: queryParam(request, 'q'),
        plan: qc.policy.catalog.planNames.includes(plan) ? plan : '',
        sort,
        after: queryParam(request, 'after') || undefined,
      },
      ctx.nowMs,
    );
    return sendPage(reply, request, {
      title: 'Subjects',
      nav: 'subjects',
      body: renderSubjects(view, ctx),
    });
  });

  app.get<{ Params: { id: string } }>('/subjects/:id', async (request, reply) =>
    pages.subject(request, reply, request.params.id),
  );

  // The subject page's chart, drawn when the browser asks for it, at the one size it shows.
  app.get<{ Params: { id: string } }>('/subjects/:id/daily.svg', async (request, reply) => {
    const size = queryParam(request, 'size');
    if (!(size in CHART_SIZES)) throw new BadInputError('size: wide or narrow', 'size');
    const { fmt, nowMs } = viewContext(request, qc);
    const data = await subjectDaily(qc, request.params.id, nowMs);
    const svg = await dailyChartSvg(
      data,
      CHART_SIZES[size as ChartSize],
      (d) => fmt.day(d),
      (n) => fmt.num(n),
    );
    // An image runs no script; ECharts' SVG needs its style attributes.
    return reply
      .header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
      .header('Cache-Control', 'private, no-cache')
      .header('Vary', 'Accept-Language, Cookie')
      .type('image/svg+xml')
      .send(svg);
  });

  app.get('/plans', async (request, reply) =>
    sendPage(reply, request, {
      title: 'Plans',
      nav: 'plans',
      body: renderPlans(plansData(qc), viewContext(request, qc)),
    }),
  );

  app.get('/runs', async (request, reply) => pages.runs(request, reply));

  app.get('/audit', async (request, reply) => {
    const ctx = viewContext(request, qc);
    const view = await auditData(qc, {
      actor: queryParam(request, 'actor'),
      subject: queryParam(request, 'subject'),
      after: queryParam(request, 'after') || undefined,
    });
    return sendPage(reply, request, {
      title: 'Audit log',
      nav: 'audit',
      body: renderAudit(view, ctx),
    });
  });

  app.get('/keys', async (request, reply) => pages.keys(request, reply));
}
