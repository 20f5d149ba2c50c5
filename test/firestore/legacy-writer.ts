/**
 * The earlier Python app's writes, replayed in TypeScript against the same
 * documents, step by step as app/services/quota_service.py made them
 * (QuotaService.consume_quota with UserQuota.to_dict / from_dict of
 * app/models/quota_models.py):
 *
 * 1. check_quota, outside any transaction: read the document
 *    (UserQuota.from_dict raises KeyError without user_uid); suspended:
 *    refuse; past current_period_end: reset_monthly_quota (counters zeroed,
 *    the current UTC month, the whole model written back with update());
 *    then `used < limit` (limit -1: unlimited).
 * 2. A transaction that reads the document again, adds 1 to
 *    current_usage.stock_reports and lifetime_stats.total_stock_reports, and
 *    writes the whole model back with update(): every field to_dict knows is
 *    replaced, the maps whole; fields it does not know (quotaclock's map,
 *    user_email, user_displayName) are left alone.
 * 3. _record_usage_history, outside the transaction: read
 *    usage_history/{YYYY-MM}, append one record, bump daily_stats and
 *    summary, and set() the whole document.
 */
import { Timestamp, type DocumentData, type Firestore } from '@google-cloud/firestore';

type Doc = Record<string, unknown>;

const map = (v: unknown): Doc => (typeof v === 'object' && v !== null ? (v as Doc) : {});

/** UserQuota.from_dict followed by to_dict: the document as the old code writes it back. */
function model(d: Doc, nowMs: number): Doc {
  if (!('user_uid' in d)) throw new Error("KeyError: 'user_uid'");
  const now = Timestamp.fromMillis(nowMs);
  const limits = map(d.quota_limits);
  const usage = map(d.current_usage);
  const lifetime = map(d.lifetime_stats);
  return {
    user_uid: d.user_uid,
    plan_type: d.plan_type ?? 'free',
    plan_updated_at: d.plan_updated_at ?? now,
    quota_limits: { stock_reports_monthly: limits.stock_reports_monthly ?? 10 },
    current_usage: { stock_reports: usage.stock_reports ?? 0 },
    current_period_start: d.current_period_start ?? now,
    current_period_end: d.current_period_end ?? now,
    last_reset: d.last_reset ?? now,
    created_at: d.created_at ?? now,
    updated_at: d.updated_at ?? now,
    is_suspended: d.is_suspended ?? false,
    suspension_reason: d.suspension_reason ?? null,
    lifetime_stats: {
      total_stock_reports: lifetime.total_stock_reports ?? 0,
      member_since: lifetime.member_since ?? now,
    },
  };
}

/** _get_current_period: the UTC month, its end the last second. */
function utcMonth(nowMs: number): { start: Timestamp; end: Timestamp; key: string } {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return {
    start: Timestamp.fromMillis(Date.UTC(y, m, 1)),
    end: Timestamp.fromMillis(Date.UTC(y, m + 1, 1) - 1000),
    key: `${y}-${String(m + 1).padStart(2, '0')}`,
  };
}

export type OldOutcome = 'granted' | 'quota_exceeded' | 'suspended';

export interface OldConsumeOptions {
  readonly nowMs: number;
  readonly ticker?: string;
  /** Runs between the check and the transaction: where the old race let others in. */
  readonly afterCheck?: () => Promise<void>;
}

/** QuotaService.consume_quota(uid, 'stock_report', metadata) at the instant nowMs. */
export async function oldConsume(
  db: Firestore,
  uid: string,
  opts: OldConsumeOptions,
): Promise<OldOutcome> {
  const ref = db.collection('userQuotas').doc(uid);
  // check_quota
  let q = model((await ref.get()).data() ?? {}, opts.nowMs);
  if (q.is_suspended === true) return 'suspended';
  if (opts.nowMs > (q.current_period_end as Timestamp).toMillis()) {
    const month = utcMonth(opts.nowMs);
    await ref.update({
      ...q,
      current_usage: { stock_reports: 0 },
      current_period_start: month.start,
      current_period_end: month.end,
      last_reset: Timestamp.fromMillis(opts.nowMs),
      updated_at: Timestamp.fromMillis(opts.nowMs),
    });
    q = model((await ref.get()).data() ?? {}, opts.nowMs);
  }
  const limit = map(q.quota_limits).stock_reports_monthly as number;
  const used = map(q.current_usage).stock_reports as number;
  if (limit !== -1 && used >= limit) return 'quota_exceeded';
  await opts.afterCheck?.();
  // the transaction
  await db.runTransaction(async (tx) => {
    const snap = await tx.get(ref);
    const m = model(snap.data() ?? {}, opts.nowMs);
    const usage = map(m.current_usage);
    const lifetime = map(m.lifetime_stats);
    usage.stock_reports = (usage.stock_reports as number) + 1;
    lifetime.total_stock_reports = (lifetime.total_stock_reports as number) + 1;
    m.updated_at = Timestamp.fromMillis(opts.nowMs);
    tx.update(ref, m as DocumentData);
  });
  // _record_usage_history
  const month = utcMonth(opts.nowMs);
  const hRef = ref.collection('usage_history').doc(month.key);
  const h = (await hRef.get()).data() ?? {
    period: month.key,
    user_uid: uid,
    stock_reports: [],
    daily_stats: {},
    summary: { total_stock_reports: 0, peak_usage_day: null, avg_daily_usage: 0.0 },
    created_at: Timestamp.fromMillis(opts.nowMs),
  };
  const day = new Date(opts.nowMs).toISOString().slice(0, 10);
  const daily = map(h.daily_stats);
  const summary = map(h.summary);
  await hRef.set({
    period: h.period ?? month.key,
    user_uid: h.user_uid ?? uid,
    stock_reports: [
      ...((h.stock_reports as unknown[] | undefined) ?? []),
      {
        ticker: opts.ticker ?? 'UNKNOWN',
        timestamp: Timestamp.fromMillis(opts.nowMs),
        report_id: null,
        status: 'success',
        generation_time_ms: 0,
      },
    ],
    daily_stats: {
      ...daily,
      [day]: { stock_reports: ((map(daily[day]).stock_reports as number | undefined) ?? 0) + 1 },
    },
    summary: {
      total_stock_reports: ((summary.total_stock_reports as number | undefined) ?? 0) + 1,
      peak_usage_day: summary.peak_usage_day ?? null,
      avg_daily_usage: summary.avg_daily_usage ?? 0.0,
    },
    created_at: h.created_at ?? Timestamp.fromMillis(opts.nowMs),
    updated_at: Timestamp.fromMillis(opts.nowMs),
  });
  return 'granted';
}
