import { parseConfig } from './config/parse.js';
import type { QuotaClockConfig, QuotaClockConfigInput } from './config/schema.js';
import { BadInputError, SubjectNotFoundError } from './core/errors.js';
import type { Limit, Plan } from './core/plans.js';
import { featureStatus, periodView, QuotaPolicy } from './core/policy.js';
import { canonicalTimeZone } from './core/time-zone.js';
import { answerClock, type AnswerClock } from './core/answer-clock.js';
import { settleItem } from './core/item-outcome.js';
import type {
  ConsumeItem,
  ConsumeResult,
  HistoryEntry,
  ItemOutcome,
  ImportedSubject,
  ListOptions,
  Metadata,
  NewSubject,
  Page,
  PeriodView,
  RefundResult,
  ResetSubjectResult,
  StatusResult,
  Subject,
  UpsertResult,
} from './core/types.js';
import {
  assertAmount,
  assertIdempotencyKey,
  assertSubjectId,
  normaliseMeta,
} from './core/validate.js';
import {
  CLI_ACTOR,
  type Actor,
  type EventListOptions,
  type SubjectPatch,
  type UsageEventView,
} from './core/admin-types.js';
import { ApiKeys, AuditLog, Sessions } from './quotaclock-admin.js';
import { openStore, parseStoreUrl } from './store/open-store.js';
import type { QuotaStore } from './store/quota-store.js';
import type { QuotaObserver } from './observers.js';
import type { Logger } from './log/logger.js';

export type Clock = () => number;

export interface CreateQuotaClockOptions {
  /** A validated config, or raw input that is validated here. Defaults to the reference plans on ./quotaclock.db. */
  readonly config?: QuotaClockConfig | QuotaClockConfigInput;
  /** An already-open store; otherwise one is opened from config.store on first use. */
  readonly store?: QuotaStore;
  /** Epoch-ms clock; tests and backfills pin it. */
  readonly clock?: Clock;
  /**
   * Told about every consume (e.g. the threshold watcher from notify). Wired
   * where the process is put together: the CLI context, the cloud entries, serve.
   */
  readonly observers?: readonly QuotaObserver[];
  /** Where the facade's own lines go (a subject created on first consume); default: stderr at the configured level. */
  readonly logger?: Logger;
  /**
   * Whether the first use may create the store: true (the default) creates an
   * embedded SQLite file and applies its schema; false insists on an existing
   * store, which is how the CLI's commands other than init, users import and
   * restore open it. See OpenStoreOptions.
   */
  readonly createStore?: boolean;
}

export type When = number | Date | undefined;

export interface ConsumeCallOptions {
  readonly key?: string;
  readonly meta?: Metadata;
  readonly now?: When;
  /** What the request was; with `key`, a retry carrying another fingerprint is refused (IDEMPOTENCY_KEY_REUSED). */
  readonly fingerprint?: string;
}

export interface CheckResult extends AnswerClock {
  /** Whether consuming `amount` now would be granted (not a reservation). */
  readonly allowed: boolean;
  readonly limit: Limit;
  readonly used: number;
  readonly remaining: number | null;
  readonly reason?: 'quota_exceeded' | 'suspended';
  /** The period the answer is about (the subject's current one). */
  readonly period: PeriodView;
}

export function policyFromConfig(config: QuotaClockConfig): QuotaPolicy {
  return new QuotaPolicy({
    plans: config.plans,
    defaultPlan: config.defaultPlan,
    period: config.period,
    autoCreateSubjects: config.autoCreateSubjects,
    retentionPeriods: config.retention.periods,
  });
}

/**
 * The one service every command, entry point and app call goes through.
 * It validates input and applies the clock; the store does the atomic work.
 */
export class QuotaClock {
  readonly config: QuotaClockConfig;
  readonly policy: QuotaPolicy;
  private readonly clock: Clock;
  private storePromise: Promise<QuotaStore> | undefined;
  private readonly observers: readonly QuotaObserver[];
  /** API keys: create, list, revoke, authenticate. */
  readonly keys: ApiKeys;
  /** Dashboard sessions, opaque tokens of which the store keeps a hash. */
  readonly sessions: Sessions;
  /** Every admin write, with who, when, before and after. */
  readonly audit: AuditLog;
  private readonly createStore: boolean;
  private readonly givenLogger: Logger | undefined;
  private logger: Promise<Logger> | undefined;

  constructor(opts: CreateQuotaClockOptions = {}) {
    // Parsing is idempotent, so an already-validated config passes through unchanged.
    this.config = parseConfig(opts.config ?? {});
    this.policy = policyFromConfig(this.config);
    this.clock = opts.clock ?? Date.now;
    this.observers = (opts.observers ?? []).filter((o) => o.onConsume || o.drain);
    this.createStore = opts.createStore ?? true;
    this.givenLogger = opts.logger;
    // autoCreateSubjects is the default, so a mistyped id becomes a user: say so in the log.
    this.policy.onSubjectAutoCreated((subject, plan) => {
      void this.log().then((log) =>
        log.info(
          { subject, plan },
          `subject "${subject}" created on first consume (autoCreateSubjects)`,
        ),
      );
    });
    if (opts.store) this.storePromise = Promise.resolve(opts.store);
    const store = () => this.store();
    const now = () => this.now();
    this.keys = new ApiKeys(store, now);
    this.sessions = new Sessions(store, now);
    this.audit = new AuditLog(store);
  }

  /** The store, opened on first use. A failed open is not cached: a long-lived caller (the daemon) retries later. */
  store(): Promise<QuotaStore> {
    this.storePromise ??= openStore(
      parseStoreUrl(this.config.store, process.cwd(), 'store'),
      this.policy,
      { create: this.createStore, clock: this.clock },
    ).catch((e: unknown) => {
      this.storePromise = undefined;
      throw e;
    });
    return this.storePromise;
  }

  private log(): Promise<Logger> {
    this.logger ??= this.givenLogger
      ? Promise.resolve(this.givenLogger)
      : import('./log/logger.js').then(({ createLogger }) =>
          createLogger({ level: this.config.log.level }),
        );
    return this.logger;
  }

  now(when?: When): number {
    if (when === undefined) return this.clock();
    return when instanceof Date ? when.getTime() : when;
  }

  /** Creates or upgrades the schema; idempotent. */
  async init(): Promise<{ applied: number[]; current: number }> {
    return (await this.store()).migrate();
  }

  async close(): Promise<void> {
    // Background work of observers (threshold notices being delivered) finishes first.
    for (const o of this.observers) await o.drain?.();
    if (this.storePromise) await (await this.storePromise).close();
  }

  plans(): Plan[] {
    return this.policy.catalog.list();
  }

  /** A consume's input, checked: what the store is given. */
  private consumeItem(
    subject: string,
    feature: string,
    amount: number,
    opts: Omit<ConsumeCallOptions, 'now'>,
  ): ConsumeItem {
    assertSubjectId(subject);
    this.policy.catalog.assertFeature(feature);
    assertAmount(amount);
    assertIdempotencyKey(opts.key);
    if (
      opts.fingerprint !== undefined &&
      (typeof opts.fingerprint !== 'string' || opts.fingerprint.length > 200)
    )
      throw new BadInputError(
        'fingerprint: expected a string of at most 200 characters',
        'fingerprint',
      );
    const meta = normaliseMeta(opts.meta);
    return {
      subject,
      feature,
      amount,
      ...(opts.key === undefined ? {} : { key: opts.key }),
      ...(meta === undefined ? {} : { meta }),
      ...(opts.fingerprint === undefined ? {} : { fingerprint: opts.fingerprint }),
    };
  }

  private notify(item: ConsumeItem, result: ConsumeResult): void {
    const event = { subject: item.subject, feature: item.feature, amount: item.amount, result };
    for (const o of this.observers) o.onConsume?.(event, this);
  }

  async consume(
    subject: string,
    feature: string,
    amount = 1,
    opts: ConsumeCallOptions = {},
  ): Promise<ConsumeResult> {
    const item = this.consumeItem(subject, feature, amount, opts);
    const { subject: _s, feature: _f, amount: _a, ...rest } = item;
    const result = await (
      await this.store()
    ).consume(subject, feature, amount, { ...rest, now: this.now(opts.now) });
    if (this.observers.length > 0) this.notify(item, result);
    return result;
  }

  /**
   * Many consumes at one instant, each decided exactly as `consume` would
   * decide it, in order (items on one subject see the earlier ones' effect;
   * a key repeated in the list replays the first), with far fewer commits.
   * An item that `consume` would refuse (bad input, an unknown subject, a
   * reused key) gets that error as its outcome, and the others go on; a
   * store failure rejects the whole call. Outcomes come in the items' order.
   */
  async consumeMany(
    items: readonly ({ subject: string; feature: string; amount?: number } & Omit<
      ConsumeCallOptions,
      'now'
    >)[],
    opts: { now?: When } = {},
  ): Promise<ItemOutcome<ConsumeResult>[]> {
    const checked = items.map((i) =>
      settleItem(() => this.consumeItem(i.subject, i.feature, i.amount ?? 1, i)),
    );
    const valid = checked.flatMap((c) => (c.ok ? [c.result] : []));
    const decided =
      valid.length === 0 ? [] : await (await this.store()).consumeMany(valid, this.now(opts.now));
    let next = 0;
    return checked.map((c) => {
      if (!c.ok) return c;
      const out = decided[next++]!;
      if (out.ok && this.observers.length > 0) this.notify(c.result, out.result);
      return out;
    });
  }

  /** With an actor (an admin's refund), the store also writes an `event.refund` audit entry. */
  async refund(
    subject: string,
    key: string,
    opts: { now?: When } = {},
    actor?: Actor,
  ): Promise<RefundResult> {
    assertSubjectId(subject);
    if (key === undefined || key === null)
      throw new BadInputError('key: required, the idempotency key of the consume to refund', 'key');
    assertIdempotencyKey(key);
    return (await this.store()).refund(subject, key, this.now(opts.now), actor);
  }

  /** Would `amount` be granted now? Reads only; use consume to actually take it. */
  async check(
    subject: string,
    feature: string,
    amount = 1,
    opts: { now?: When } = {},
  ): Promise<CheckResult> {
    this.policy.catalog.assertFeature(feature);
    assertAmount(amount);
    // What a consume would meet: a subject it would create reads as a new one.
    const s = await this.status(subject, { ...opts, asNew: this.policy.autoCreateSubjects });
    const f = s.features[feature]!;
    if (s.suspended)
      return {
        allowed: false,
        limit: f.limit,
        used: f.used,
        remaining: f.remaining,
        reason: 'suspended',
        period: s.period,
        timeZone: s.timeZone,
        secondsLeft: s.secondsLeft,
      };
    const allowed = f.limit === null || f.used + amount <= f.limit;
    return {
      allowed,
      limit: f.limit,
      used: f.used,
      remaining: f.remaining,
      ...(allowed ? {} : { reason: 'quota_exceeded' }),
      period: s.period,
      timeZone: s.timeZone,
      secondsLeft: s.secondsLeft,
    };
  }

  /**
   * An unknown subject is SubjectNotFoundError (reading never creates one),
   * unless `asNew` asks what a subject created now would get: the default
   * plan, nothing used.
   */
  async status(subject: string, opts: { now?: When; asNew?: boolean } = {}): Promise<StatusResult> {
    assertSubjectId(subject);
    const nowMs = this.now(opts.now);
    const store = await this.store();
    try {
      return await store.status(subject, nowMs);
    } catch (e) {
      if (!(e instanceof SubjectNotFoundError) || opts.asNew !== true) throw e;
      const zone = canonicalTimeZone(this.policy.rule.timeZone);
      const period = this.policy.periods.at({ timeZone: null, anchorMs: nowMs }, nowMs);
      const features: StatusResult['features'] = Object.fromEntries(
        this.policy.catalog.features.map((f) => [
          f,
          featureStatus(this.policy.catalog.limitFor(this.policy.catalog.defaultPlan, {}, f), 0),
        ]),
      );
      return {
        subject,
        plan: this.policy.catalog.defaultPlan,
        suspended: false,
        suspendedReason: null,
        period: periodView(period),
        ...answerClock(zone, zone, period, nowMs),
        features,
      };
    }
  }

  async history(subject: string): Promise<HistoryEntry[]> {
    assertSubjectId(subject);
    return (await this.store()).history(subject);
  }

  async addSubject(
    subject: NewSubject,
    opts: { now?: When } = {},
    actor: Actor = CLI_ACTOR,
  ): Promise<Subject> {
    return (await this.store()).addSubject(subject, this.now(opts.now), actor);
  }

  /** Time zone, email or display name; fields left out are kept. */
  async updateSubject(
    subject: string,
    patch: SubjectPatch,
    actor: Actor = CLI_ACTOR,
    opts: { now?: When } = {},
  ): Promise<Subject> {
    assertSubjectId(subject);
    return (await this.store()).updateSubject(subject, patch, this.now(opts.now), actor);
  }

  /** The subject's usage ledger, newest first. */
  async subjectEvents(subject: string, opts: EventListOptions = {}): Promise<Page<UsageEventView>> {
    assertSubjectId(subject);
    return (await this.store()).subjectEvents(subject, opts);
  }

  async importSubjects(
    subjects: readonly ImportedSubject[],
    opts: { now?: When } = {},
  ): Promise<UpsertResult> {
    return (await this.store()).upsertSubjects(subjects, this.now(opts.now));
  }

  async getSubject(subject: string): Promise<Subject> {
    assertSubjectId(subject);
    const s = await (await this.store()).getSubject(subject);
    if (!s) throw new SubjectNotFoundError(subject);
    return s;
  }

  async listSubjects(opts: ListOptions = {}): Promise<Page<Subject>> {
    if (opts.plan !== undefined) this.policy.catalog.assertPlan(opts.plan, '--plan');
    return (await this.store()).listSubjects(opts);
  }

  async subjectsAtLimit(opts: { now?: When; limit?: number } = {}): Promise<Subject[]> {
    return (await this.store()).subjectsAtLimit(this.now(opts.now), opts.limit);
  }

  async setPlan(
    subject: string,
    plan: string,
    opts: { now?: When } = {},
    actor: Actor = CLI_ACTOR,
  ): Promise<Subject> {
    assertSubjectId(subject);
    this.policy.catalog.assertPlan(plan);
    return (await this.store()).setPlan(subject, plan, this.now(opts.now), actor);
  }

  /** limit undefined removes the override, so the plan's limit applies again. */
  async setOverride(
    subject: string,
    feature: string,
    limit: Limit | undefined,
    opts: { now?: When } = {},
    actor: Actor = CLI_ACTOR,
  ): Promise<Subject> {
    assertSubjectId(subject);
    return (await this.store()).setOverride(subject, feature, limit, this.now(opts.now), actor);
  }

  async suspend(
    subject: string,
    reason?: string,
    opts: { now?: When } = {},
    actor: Actor = CLI_ACTOR,
  ): Promise<Subject> {
    assertSubjectId(subject);
    return (await this.store()).suspend(subject, reason ?? null, this.now(opts.now), actor);
  }

  async unsuspend(
    subject: string,
    opts: { now?: When } = {},
    actor: Actor = CLI_ACTOR,
  ): Promise<Subject> {
    assertSubjectId(subject);
    return (await this.store()).unsuspend(subject, this.now(opts.now), actor);
  }

  /** A manual mid-period reset of one subject, recorded as events and in the audit log. */
  async resetSubject(
    subject: string,
    opts: { now?: When; dryRun?: boolean; reason?: string; operation?: string } = {},
    actor: Actor = CLI_ACTOR,
  ): Promise<ResetSubjectResult> {
    assertSubjectId(subject);
    return (await this.store()).resetSubject(subject, this.now(opts.now), {
      dryRun: opts.dryRun ?? false,
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.operation ? { operation: opts.operation } : {}),
      actor,
    });
  }
}

export function createQuotaClock(opts: CreateQuotaClockOptions = {}): QuotaClock {
  return new QuotaClock(opts);
}
