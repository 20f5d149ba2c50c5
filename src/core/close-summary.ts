import type { Limit, Limits, PlanCatalog } from './plans.js';
import { isAtLimit } from './policy.js';

export interface FeatureTotals {
  subjects: number;
  used: number;
  atLimit: number;
}

/** plan → feature → totals. Plain data so it survives a JSON checkpoint. */
export type CloseTotals = Record<string, Record<string, FeatureTotals>>;

/** Adds `subjects` subjects that each used `used` units under `limit`. */
export function addUsage(
  totals: CloseTotals,
  plan: string,
  feature: string,
  used: number,
  limit: Limit,
  subjects = 1,
): void {
  const byFeature = (totals[plan] ??= {});
  const t = (byFeature[feature] ??= { subjects: 0, used: 0, atLimit: 0 });
  t.subjects += subjects;
  t.used += used * subjects;
  if (isAtLimit(limit, used)) t.atLimit += subjects;
}

export function mergeTotals(into: CloseTotals, from: CloseTotals): CloseTotals {
  for (const [plan, features] of Object.entries(from)) {
    for (const [feature, t] of Object.entries(features)) {
      const byFeature = (into[plan] ??= {});
      const target = (byFeature[feature] ??= { subjects: 0, used: 0, atLimit: 0 });
      target.subjects += t.subjects;
      target.used += t.used;
      target.atLimit += t.atLimit;
    }
  }
  return into;
}

/** Total units used across plans and features. */
export function totalUsed(totals: CloseTotals): number {
  let n = 0;
  for (const features of Object.values(totals))
    for (const t of Object.values(features)) n += t.used;
  return n;
}

/**
 * One row of a store's set-based close survey: `n` subjects of one plan that
 * used the same amount of every feature, `u<i>` being the use of
 * `catalog.features[i]` (null when the subject has no counter for it).
 */
export type SurveyRow = { readonly plan: string; readonly n: number } & Readonly<
  Partial<Record<`u${number}`, number | null>>
>;

/** Each plan's limits with no overrides; plans not in the catalog are absent (no limits). */
export function planLimitsOf(catalog: PlanCatalog): Record<string, Limits> {
  const out: Record<string, Limits> = {};
  for (const p of catalog.list()) out[p.name] = catalog.limitsFor(p.name, {});
  return out;
}

/** Adds one survey row: its subjects count once per feature, at-limit by the plan's limit. */
export function addSurveyRow(
  totals: CloseTotals,
  features: readonly string[],
  planLimits: Readonly<Record<string, Limits>>,
  row: SurveyRow,
): void {
  const limits = planLimits[row.plan];
  features.forEach((f, i) =>
    addUsage(totals, row.plan, f, row[`u${i}`] ?? 0, limits?.[f] ?? null, row.n),
  );
}

/** A dry run's totals for one period key, summed over batches. */
export interface PreviewTotals {
  subjects: number;
  startMs: number;
  endMs: number;
  summary: CloseTotals;
}

/**
 * Counts one subject's ended period into a dry run's totals per key: the
 * subject, the period's span, and its use of every feature under `limits`.
 */
export function addPreviewPeriod(
  byKey: Record<string, PreviewTotals>,
  period: { readonly key: string; readonly startMs: number; readonly endMs: number },
  plan: string,
  features: readonly string[],
  limits: Readonly<Record<string, Limit>>,
  usedOf: (feature: string) => number,
): void {
  const entry = (byKey[period.key] ??= {
    subjects: 0,
    startMs: period.startMs,
    endMs: period.endMs,
    summary: {},
  });
  entry.subjects += 1;
  entry.startMs = Math.min(entry.startMs, period.startMs);
  entry.endMs = Math.max(entry.endMs, period.endMs);
  for (const f of features) addUsage(entry.summary, plan, f, usedOf(f), limits[f] ?? null);
}
