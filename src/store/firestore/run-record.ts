import type { DocumentData } from '@google-cloud/firestore';
import { toIso } from '../../core/period.js';
import type { RunCheckpoint, RunRecord, RunStatus } from '../quota-store.js';
import { toMs } from './layout.js';

export const EMPTY_CHECKPOINT: RunCheckpoint = { cursor: null, subjects: 0, summary: {} };

/** The ledger document of one period key (quotaclockRuns/{key}) as the store contract's RunRecord. */
export function toRun(key: string, r: DocumentData): RunRecord {
  const ms = (v: unknown) => toMs(v);
  const start = ms(r.period_start);
  const end = ms(r.period_end);
  const finished = ms(r.finished_at);
  return {
    key,
    status: r.status as RunStatus,
    startedAt: toIso(ms(r.started_at) ?? 0),
    finishedAt: finished === null ? null : toIso(finished),
    attempts: typeof r.attempts === 'number' ? r.attempts : 1,
    holder: typeof r.holder === 'string' ? r.holder : null,
    periodStart: start === null ? null : toIso(start),
    periodEnd: end === null ? null : toIso(end),
    checkpoint:
      typeof r.checkpoint_json === 'string'
        ? (JSON.parse(r.checkpoint_json) as RunCheckpoint)
        : EMPTY_CHECKPOINT,
    error: typeof r.error === 'string' ? r.error : null,
  };
}
