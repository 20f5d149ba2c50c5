import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

const FORMATS = ['text', 'html', 'json', 'csv'] as const;

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const format = String(opts.format ?? 'text');
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new BadInputError(
      `--format: expected one of ${FORMATS.join(', ')}, got "${format}"`,
      '--format',
    );
  }
  const top = Number(opts.top ?? 10);
  const qc = await ctx.quotaclock();
  const logger = await ctx.logger();
  const [{ buildUsageReport }, render, chart] = await Promise.all([
    import('../../report/usage-report.js'),
    import('../../report/render.js'),
    import('../../report/chart.js'),
  ]);
  const report = await buildUsageReport(qc, {
    top,
    ...(typeof opts.period === 'string' ? { period: opts.period } : {}),
    ...(typeof opts.last === 'string' ? { last: opts.last } : {}),
  });
  const send = opts.send === true;
  const png = format === 'html' || send ? await chart.renderChartPng(report) : null;
  let body: string;
  switch (format) {
    case 'html':
      body = render.renderReportHtml(report, {
        src: `data:image/png;base64,${png!.toString('base64')}`,
        width: chart.CHART_SIZE.width,
        height: chart.CHART_SIZE.height,
      });
      break;
    case 'json':
      body = JSON.stringify(report, null, 2);
      break;
    case 'csv':
      body = render.renderReportCsv(report).trimEnd();
      break;
    default:
      body = render.renderReportText(report);
  }

  const notes: string[] = [];
  let exitCode = 0;
  let notifications: unknown[] | undefined;
  if (send) {
    const [{ Notifications }, { messageContext }, { reportEvent }] = await Promise.all([
      import('../../notify/dispatcher.js'),
      import('../../notify/messages.js'),
      import('../../report/event.js'),
    ]);
    const n = new Notifications(qc.config.notify, { logger });
    if (!n.wants('report')) {
      throw new BadInputError(
        '--send: no notification target takes reports (notify.targets, and their "events" if set)',
        '--send',
      );
    }
    const results = await n.emit(
      reportEvent(report, png, {
        ...messageContext(qc.config, { logger, trigger: 'cli' }),
        nowMs: qc.now(),
      }),
    );
    notifications = results;
    for (const r of results)
      notes.push(
        r.ok
          ? `sent to ${r.target}`
          : `sending to ${r.target} FAILED after ${r.attempts} attempt(s): ${r.error ?? ''}`,
      );
    if (results.some((r) => !r.ok)) exitCode = 1;
  }

  if (typeof opts.out === 'string') {
    const path = resolve(opts.out);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${body}\n`);
    renameSync(tmp, path);
    notes.unshift(`wrote the ${format} report to ${path}`);
    return {
      data: { report, out: path, ...(notifications ? { notifications } : {}) },
      text: notes.join('\n'),
      exitCode,
    };
  }
  // Keep stdout a clean HTML, JSON or CSV document: what was sent goes to stderr.
  if (format !== 'text' && notes.length) process.stderr.write(`${notes.join('\n')}\n`);
  const text = format === 'text' && notes.length ? [body, '', ...notes].join('\n') : body;
  return { data: { report, ...(notifications ? { notifications } : {}) }, text, exitCode };
}
