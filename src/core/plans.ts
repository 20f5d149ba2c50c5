import { QuotaClockError, UnknownFeatureError, UnknownPlanError } from './errors.js';

/** null means unlimited. */
export type Limit = number | null;
export type Limits = Readonly<Record<string, Limit>>;

export interface Plan {
  readonly name: string;
  readonly limits: Limits;
}

export type PlanSet = Readonly<Record<string, { readonly limits: Limits }>>;

/** The reference plans of DESIGN.md: stock reports per month. */
export const DEFAULT_PLANS: PlanSet = {
  free: { limits: { stock_reports: 10 } },
  pro: { limits: { stock_reports: 45 } },
  pro_plus: { limits: { stock_reports: 100 } },
  enterprise: { limits: { stock_reports: null } },
};

export const DEFAULT_PLAN_NAME = 'free';

export class PlanCatalog {
  readonly features: readonly string[];
  readonly planNames: readonly string[];

  constructor(
    private readonly plans: PlanSet,
    readonly defaultPlan: string,
  ) {
    this.planNames = Object.keys(plans);
    const features = new Set<string>();
    for (const p of Object.values(plans)) for (const f of Object.keys(p.limits)) features.add(f);
    this.features = [...features].sort();
    if (!(defaultPlan in plans))
      throw new UnknownPlanError(defaultPlan, this.planNames, 'defaultPlan');
  }

  has(plan: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.plans, plan);
  }

  assertPlan(plan: string, where = 'plan'): void {
    if (!this.has(plan)) throw new UnknownPlanError(plan, this.planNames, where);
  }

  assertFeature(feature: string, where = 'feature'): void {
    if (!this.features.includes(feature))
      throw new UnknownFeatureError(feature, this.features, where);
  }

  list(): Plan[] {
    return this.planNames.map((name) => ({ name, limits: this.plans[name]!.limits }));
  }

  /**
   * The limit in force for one feature: a subject override wins over the plan.
   * A plan that does not mention a feature grants none of it (0), which is the
   * safe reading: forgetting a feature in a plan must never make it unlimited.
   */
  limitFor(plan: string, overrides: Limits, feature: string): Limit {
    if (Object.prototype.hasOwnProperty.call(overrides, feature)) return overrides[feature] ?? null;
    const p = this.plans[plan];
    if (!p) throw new UnknownPlanError(plan, this.planNames);
    if (!Object.prototype.hasOwnProperty.call(p.limits, feature)) return 0;
    return p.limits[feature] ?? null;
  }

  limitsFor(plan: string, overrides: Limits): Record<string, Limit> {
    const out: Record<string, Limit> = {};
    for (const f of this.features) out[f] = this.limitFor(plan, overrides, f);
    return out;
  }
}

export function assertLimitValue(value: unknown, where: string): asserts value is Limit {
  if (value === null) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new QuotaClockError('BAD_INPUT', `${where}: expected integer ≥ 0 or null`, { where });
  }
}
