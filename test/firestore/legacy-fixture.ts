/**
 * Documents shaped exactly as the earlier Python code wrote them
 * (app/models/quota_models.py: UserQuota.to_dict, UsageHistory.to_dict;
 * quota_service.initialize_user_quota, which added user_email and
 * user_displayName), including the gaps real data has: documents from before
 * a field existed, hand edits in the console, a plan the code later dropped.
 *
 * Python datetimes arrive in Firestore as Timestamps with microseconds; the
 * old period end is the last second of the month (23:59:59).
 */
import { Timestamp, type Firestore } from '@google-cloud/firestore';

/** A Python datetime(…, tzinfo=timezone.utc) with microseconds, as firebase_admin stores it. */
export const pyTime = (iso: string, micros = 0) => {
  const ms = Date.parse(iso);
  return new Timestamp(Math.floor(ms / 1000), (ms % 1000) * 1e6 + micros * 1000);
};

const DEC_START = pyTime('2025-12-01T00:00:00Z');
const DEC_END = pyTime('2025-12-31T23:59:59Z');
const NOV_START = pyTime('2025-11-01T00:00:00Z');
const NOV_END = pyTime('2025-11-30T23:59:59Z');

/** The document initialize_user_quota wrote, after `used` consumes. */
function initialized(
  uid: string,
  plan: string,
  limit: number,
  used: number,
  extra: Record<string, unknown> = {},
) {
  const created = pyTime('2025-10-14T09:31:07Z', 412_337);
  return {
    user_uid: uid,
    plan_type: plan,
    plan_updated_at: created,
    quota_limits: { stock_reports_monthly: limit },
    current_usage: { stock_reports: used },
    current_period_start: DEC_START,
    current_period_end: DEC_END,
    last_reset: pyTime('2025-12-01T00:01:02Z', 5_021),
    created_at: created,
    updated_at: pyTime('2025-12-18T16:20:44Z', 90_112),
    is_suspended: false,
    suspension_reason: null,
    lifetime_stats: { total_stock_reports: used + 5, member_since: created },
    ...extra,
  };
}

/** One usage record as StockReportUsage.to_dict wrote it into usage_history. */
const record = (ticker: string, iso: string, ms: number) => ({
  ticker,
  timestamp: pyTime(iso, 77_001),
  report_id: `rep_${ticker.toLowerCase()}_${ms}`,
  status: 'success',
  generation_time_ms: ms,
});

export const LEGACY_USERS: Record<string, Record<string, unknown>> = {
  'u-free-active': initialized('u-free-active', 'free', 10, 3, {
    user_email: 'ada@example.com',
    user_displayName: 'Ada',
  }),
  'u-pro-full': initialized('u-pro-full', 'pro', 45, 45, { user_email: 'pro@example.com' }),
  'u-enterprise': initialized('u-enterprise', 'enterprise', -1, 250),
  'u-suspended': initialized('u-suspended', 'free', 10, 2, {
    is_suspended: true,
    suspension_reason: 'chargeback',
  }),
  // Written before plans existed: no plan_type, no quota_limits, no lifetime_stats.
  'u-minimal': {
    user_uid: 'u-minimal',
    current_usage: { stock_reports: 4 },
    current_period_start: DEC_START,
    current_period_end: DEC_END,
  },
  // Created by hand in the console: no user_uid (UserQuota.from_dict raised KeyError on it).
  'u-no-uid': {
    plan_type: 'pro',
    quota_limits: { stock_reports_monthly: 45 },
    current_usage: { stock_reports: 1 },
    current_period_start: DEC_START,
    current_period_end: DEC_END,
    is_suspended: false,
  },
  // A plan set without its limits: the old code read the default, 10.
  'u-no-limits': {
    user_uid: 'u-no-limits',
    plan_type: 'pro_plus',
    current_usage: { stock_reports: 0 },
    current_period_start: DEC_START,
    current_period_end: DEC_END,
  },
  // An admin raised this user's limit in the admin API (update_user_quota).
  'u-custom-limit': initialized('u-custom-limit', 'free', 25, 12),
  // Nobody has called check_quota since November: still in the old period.
  'u-old-period': {
    ...initialized('u-old-period', 'free', 10, 7),
    current_period_start: NOV_START,
    current_period_end: NOV_END,
    last_reset: pyTime('2025-11-01T00:01:00Z'),
  },
  // No period fields at all; last_reset places it in December.
  'u-no-period': {
    user_uid: 'u-no-period',
    plan_type: 'free',
    quota_limits: { stock_reports_monthly: 10 },
    current_usage: { stock_reports: 2 },
    last_reset: pyTime('2025-12-02T08:00:00Z'),
  },
  // A plan from an older version of the plans file.
  'u-premium': initialized('u-premium', 'premium', 100, 30),
  // Wrong types everywhere: must read as the defaults, not crash.
  'u-garbage': {
    user_uid: 'u-garbage',
    plan_type: 7,
    quota_limits: 'unlimited',
    current_usage: { stock_reports: 'lots' },
    current_period_start: DEC_START,
    current_period_end: DEC_END,
    is_suspended: 'no',
    lifetime_stats: null,
  },
};

/** What status must say for each on 2025-12-20: plan, limit, used, suspended. */
export const EXPECTED_DEC: Record<
  string,
  { plan: string; limit: number | null; used: number; suspended: boolean }
> = {
  'u-free-active': { plan: 'free', limit: 10, used: 3, suspended: false },
  'u-pro-full': { plan: 'pro', limit: 45, used: 45, suspended: false },
  'u-enterprise': { plan: 'enterprise', limit: null, used: 250, suspended: false },
  'u-suspended': { plan: 'free', limit: 10, used: 2, suspended: true },
  'u-minimal': { plan: 'free', limit: 10, used: 4, suspended: false },
  'u-no-uid': { plan: 'pro', limit: 45, used: 1, suspended: false },
  'u-no-limits': { plan: 'pro_plus', limit: 10, used: 0, suspended: false },
  'u-custom-limit': { plan: 'free', limit: 25, used: 12, suspended: false },
  'u-old-period': { plan: 'free', limit: 10, used: 0, suspended: false },
  'u-no-period': { plan: 'free', limit: 10, used: 2, suspended: false },
  'u-premium': { plan: 'premium', limit: 100, used: 30, suspended: false },
  'u-garbage': { plan: 'free', limit: 10, used: 0, suspended: false },
};

/** usage_history documents as _record_usage_history left them. */
export const LEGACY_HISTORY: Record<string, Record<string, Record<string, unknown>>> = {
  'u-free-active': {
    '2025-11': {
      period: '2025-11',
      user_uid: 'u-free-active',
      stock_reports: [
        record('AAPL', '2025-11-03T10:00:00Z', 1800),
        record('MSFT', '2025-11-03T11:00:00Z', 2100),
        record('NVDA', '2025-11-09T12:00:00Z', 2600),
        record('TSLA', '2025-11-20T09:00:00Z', 1900),
        record('AMZN', '2025-11-28T15:00:00Z', 2300),
      ],
      daily_stats: {
        '2025-11-03': { stock_reports: 2 },
        '2025-11-09': { stock_reports: 1 },
        '2025-11-20': { stock_reports: 1 },
        '2025-11-28': { stock_reports: 1 },
      },
      summary: { total_stock_reports: 5, peak_usage_day: null, avg_daily_usage: 0.0 },
      created_at: pyTime('2025-11-03T10:00:01Z'),
      updated_at: pyTime('2025-11-28T15:00:01Z'),
    },
    '2025-12': {
      period: '2025-12',
      user_uid: 'u-free-active',
      stock_reports: [
        record('AAPL', '2025-12-03T10:00:00Z', 1750),
        record('GOOG', '2025-12-03T10:30:00Z', 2050),
        record('META', '2025-12-05T14:00:00Z', 1990),
      ],
      daily_stats: { '2025-12-03': { stock_reports: 2 }, '2025-12-05': { stock_reports: 1 } },
      summary: { total_stock_reports: 3, peak_usage_day: null, avg_daily_usage: 0.0 },
      created_at: pyTime('2025-12-03T10:00:01Z'),
      updated_at: pyTime('2025-12-05T14:00:01Z'),
    },
  },
};

export async function writeLegacyFixture(db: Firestore): Promise<void> {
  const batch = db.batch();
  for (const [uid, doc] of Object.entries(LEGACY_USERS))
    batch.set(db.collection('userQuotas').doc(uid), doc);
  for (const [uid, months] of Object.entries(LEGACY_HISTORY)) {
    for (const [key, doc] of Object.entries(months)) {
      batch.set(db.collection('userQuotas').doc(uid).collection('usage_history').doc(key), doc);
    }
  }
  await batch.commit();
}

/**
 * The reads the old Python code made, so a test can tell whether an old
 * reader still works after quotaclock wrote: UserQuota.from_dict needs
 * user_uid; UsageHistory.from_dict needs period and user_uid; both read the
 * rest with .get(…, default).
 */
export function oldReaderQuota(d: Record<string, unknown>) {
  if (!('user_uid' in d)) throw new Error("KeyError: 'user_uid'");
  const limits = (d.quota_limits ?? {}) as Record<string, unknown>;
  const usage = (d.current_usage ?? {}) as Record<string, unknown>;
  return {
    user_uid: d.user_uid,
    plan_type: d.plan_type ?? 'free',
    limit: (limits.stock_reports_monthly as number | undefined) ?? 10,
    used: (usage.stock_reports as number | undefined) ?? 0,
    period_end: d.current_period_end as Timestamp,
  };
}

export function oldReaderHistory(d: Record<string, unknown>) {
  if (!('period' in d)) throw new Error("KeyError: 'period'");
  if (!('user_uid' in d)) throw new Error("KeyError: 'user_uid'");
  const summary = (d.summary ?? {}) as Record<string, unknown>;
  return {
    period: d.period,
    total: (summary.total_stock_reports as number | undefined) ?? 0,
    records: ((d.stock_reports ?? []) as unknown[]).length,
  };
}
