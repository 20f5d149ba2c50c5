import type { DoctorReport } from './doctor.js';
import type { InstallResult } from './install.js';

export function describeInstall(r: InstallResult): string {
  const verb = {
    installed: 'installed',
    replaced: 'replaced',
    removed: 'removed',
    absent: 'nothing to remove',
  }[r.action];
  const lines = [`${r.target}: ${verb}${r.where.length ? ` (${r.where.join(', ')})` : ''}`];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.next.length) lines.push('next:', ...r.next.map((n) => `  ${n}`));
  return lines.join('\n');
}

const MARK = { ok: 'ok     ', warning: 'warning', problem: 'PROBLEM' } as const;

export function describeDoctor(r: DoctorReport): string {
  const lines = [`crontab of ${r.crontabOwner}${r.line ? `:\n  ${r.line}` : ''}`];
  for (const c of r.checks) lines.push(`${MARK[c.status]}  ${c.check}: ${c.message}`);
  if (r.ran) lines.push('', `ran: ${r.ran}`, `exit: ${r.exitCode}`);
  if (r.output)
    lines.push(
      'output:',
      ...r.output
        .split('\n')
        .slice(-15)
        .map((l) => `  ${l}`),
    );
  const problems = r.checks.filter((c) => c.status === 'problem').length;
  lines.push(
    '',
    problems
      ? `${problems} problem(s): cron would not run this line correctly`
      : 'no problems: cron can run this line',
  );
  return lines.join('\n');
}
