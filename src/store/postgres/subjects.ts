import { BadInputError, SubjectExistsError, SubjectNotFoundError } from '../../core/errors.js';
import { assertLimitValue, type Limit } from '../../core/plans.js';
import type { QuotaPolicy } from '../../core/policy.js';
import { resolveNewSubject, type ResolvedSubject } from '../../core/subject-rules.js';
import type {
  ImportedSubject,
  ListOptions,
  NewSubject,
  Page,
  Subject,
  UpsertResult,
} from '../../core/types.js';
import { importKey } from '../../core/validate.js';
import { IMPORT_META } from '../row-mapping.js';
import { RollBack, resultOf } from '../dry-run.js';
import { isUniqueViolation, type Client, type PgDb } from './pool.js';
import { CLI_ACTOR, type Actor, type SubjectPatch } from '../../core/admin-types.js';
import { resolveSubjectPatch, withOverride } from '../../core/subject-rules.js';
import {
  AUDIT_INSERT_COLUMNS,
  AUDIT_OF,
  SYSTEM_ACTOR,
  auditValues,
  mergeById,
  prefixEnd,
  subjectOfResolved,
  type AuditDraft,
} from '../admin-mapping.js';
import {
  SUBJECT_COLUMNS,
  parseOverrides,
  publicSubject,
  toSubject,
  type SubjectDbRow,
} from './rows.js';
import type { StoreSubjects } from '../quota-store.js';

type Runner = Pick<Client, 'query'>;

const CHUNK = 5000;

/** Queued result of folding an import batch in input order, as SQLite applies it row by row. */
type Pending =
  | { kind: 'insert'; row: ResolvedSubject }
  | {
      kind: 'update';
      rid: number;
      plan: string;
      overrides: string | null;
      email: string | null;
      name: string | null;
    };

/** The subjects role: subjects, their plans, overrides and suspension. */
export class PgSubjects implements StoreSubjects {
  constructor(
    private readonly db: PgDb,
    private readonly policy: QuotaPolicy,
  ) {}

  private get s() {
    return this.db.s;
  }

  async row(c: Runner | null, id: string, forUpdate = false): Promise<SubjectDbRow | undefined> {
    const text = `SELECT ${SUBJECT_COLUMNS} FROM ${this.s}.subjects WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`;
    const res = c
      ? await c.query<SubjectDbRow>(text, [id])
      : await this.db.query<SubjectDbRow>(text, [id], {
          idempotent: true,
          name: `qc_subject_${this.db.schema}`,
        });
    return res.rows[0];
  }

  /** The rows of these ids that exist, in one query. */
  async rows(ids: readonly string[]): Promise<SubjectDbRow[]> {
    const res = await this.db.query<SubjectDbRow>(
      `SELECT ${SUBJECT_COLUMNS} FROM ${this.s}.subjects WHERE id = ANY($1::text[])`,
      [ids],
      { idempotent: true, name: `qc_subjects_${this.db.schema}` },
    );
    return res.rows;
  }

  async require(c: Runner | null, id: string, forUpdate = false): Promise<SubjectDbRow> {
    const r = await this.row(c, id, forUpdate);
    if (!r) throw new SubjectNotFoundError(id);
    return r;
  }

  /**
   * Inserts a resolved subject unless the id exists, with its audit record,
   * in one statement. Returns undefined when the id was already taken.
   */
  async insertResolved(
    c: Runner | null,
    s: ResolvedSubject,
    action: 'subject.create' | 'subject.auto_create',
    actor: Actor = CLI_ACTOR,
  ): Promise<SubjectDbRow | undefined> {
    const text = `WITH ins AS (
        INSERT INTO ${this.s}.subjects (id, plan, overrides, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (id) DO NOTHING
        RETURNING ${SUBJECT_COLUMNS}
      ), audit AS (
        INSERT INTO ${this.s}.audit (at_ms, action, subject, actor, after_json, detail)
        SELECT $8, $12, id, $13, $14, NULL FROM ins
      )
      SELECT * FROM ins`;
    const values = [
      s.id,
      s.plan,
      JSON.stringify(s.overrides),
      s.timeZone,
      s.anchorMs,
      s.email,
      s.name,
      s.createdMs,
      s.closedThroughMs,
      s.openEndMs,
      s.openKey,
      action,
      action === 'subject.auto_create' ? SYSTEM_ACTOR.actor : actor.actor,
      JSON.stringify(action === 'subject.auto_create' ? { plan: s.plan } : subjectOfResolved(s)),
    ];
    const res = c
      ? await c.query<SubjectDbRow>(text, values)
      : await this.db.query<SubjectDbRow>(text, values, { idempotent: false });
    return res.rows[0];
  }

  /** Written on the caller's transaction, so the entry commits or rolls back with its change. */
  async recordAudit(c: Runner, nowMs: number, draft: AuditDraft, actor?: Actor): Promise<void> {
    await c.query(
      `INSERT INTO ${this.s}.audit (${AUDIT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      auditValues(nowMs, draft, actor),
    );
  }

  async addSubject(input: NewSubject, nowMs: number, actor?: Actor): Promise<Subject> {
    const resolved = resolveNewSubject(this.policy, input, nowMs);
    const row = await this.insertResolved(null, resolved, 'subject.create', actor);
    if (!row) throw new SubjectExistsError(resolved.id);
    return publicSubject(toSubject(row));
  }

  async upsertSubjects(
    inputs: readonly ImportedSubject[],
    nowMs: number,
    { dryRun = false }: { dryRun?: boolean } = {},
  ): Promise<UpsertResult> {
    // Resolve every row before opening the transaction: a bad row refuses the whole batch.
    const resolved = inputs.map((s, i) => resolveNewSubject(this.policy, s, nowMs, `rows[${i}]`));
    const work = async (c: Client) => {
      const r = await this.upsertInTx(c, inputs, resolved, nowMs);
      if (dryRun) throw new RollBack(r);
      return r;
    };
    return resultOf(() =>
      this.db.tx(work, {
        idempotent: false,
        // Another importer inserted one of our new ids first: the retry sees it and updates it.
        retryIf: (e) => isUniqueViolation(e, 'subjects_id'),
      }),
    );
  }

  private async upsertInTx(
    c: Client,
    inputs: readonly ImportedSubject[],
    resolved: readonly ResolvedSubject[],
    nowMs: number,
  ): Promise<UpsertResult> {
    const ids = [...new Set(resolved.map((r) => r.id))];
    const existing = new Map<string, { rid: number; time_zone: string | null }>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const res = await c.query<{ rid: number; id: string; time_zone: string | null }>(
        `SELECT rid, id, time_zone FROM ${this.s}.subjects WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
        [ids.slice(i, i + CHUNK)],
      );
      for (const r of res.rows) existing.set(r.id, r);
    }
    const plan = planUpsert(inputs, resolved, existing, this.policy.rule.timeZone);
    const { added, updated } = plan;
    await this.insertRows(c, plan.inserts);
    await this.updateRows(c, plan.updates);
    const usageImported = await this.importExtras(c, inputs, nowMs);
    await this.recordAudit(c, nowMs, {
      action: 'subject.import',
      subject: null,
      before: null,
      after: { added, updated, usageImported },
    });
    return { added, updated, usageImported };
  }

  /** New subjects, in chunks, with rids in input order. */
  private async insertRows(c: Client, inserts: readonly ResolvedSubject[]): Promise<void> {
    for (let i = 0; i < inserts.length; i += CHUNK) {
      const part = inserts.slice(i, i + CHUNK);
      const col = <K extends keyof ResolvedSubject>(k: K) => part.map((r) => r[k]);
      // WITH ORDINALITY keeps rids in input order, as SQLite assigns them.
      await c.query(
        `INSERT INTO ${this.s}.subjects (id, plan, overrides, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key)
         SELECT id, plan, overrides, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[])
           WITH ORDINALITY AS u(id, plan, overrides, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key, ord)
         ORDER BY ord`,
        [
          col('id'),
          col('plan'),
          part.map((r) => JSON.stringify(r.overrides)),
          col('timeZone'),
          col('anchorMs'),
          col('email'),
          col('name'),
          col('createdMs'),
          col('closedThroughMs'),
          col('openEndMs'),
          col('openKey'),
        ],
      );
    }
  }

  /** Plan, overrides, email and name of existing subjects, in chunks; a null keeps the stored value. */
  private async updateRows(c: Client, updates: readonly PendingUpdate[]): Promise<void> {
    for (let i = 0; i < updates.length; i += CHUNK) {
      const part = updates.slice(i, i + CHUNK);
      await c.query(
        `UPDATE ${this.s}.subjects s SET plan = u.plan, overrides = COALESCE(u.overrides, s.overrides),
           email = COALESCE(u.email, s.email), name = COALESCE(u.name, s.name)
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(rid, plan, overrides, email, name)
         WHERE s.rid = u.rid`,
        [
          part.map((u) => u.rid),
          part.map((u) => u.plan),
          part.map((u) => u.overrides),
          part.map((u) => u.email),
          part.map((u) => u.name),
        ],
      );
    }
  }

  /**
   * Suspensions, then usage counted outside quotaclock in each subject's
   * period containing nowMs: one import event per feature, keyed by period
   * and feature, so importing the same period again adds nothing.
   */
  private async importExtras(
    c: Client,
    inputs: readonly ImportedSubject[],
    nowMs: number,
  ): Promise<number> {
    const touched = inputs.filter((s) => s.suspended !== undefined || s.usage);
    if (touched.length === 0) return 0;
    let written = 0;
    for (const [i, input] of inputs.entries()) {
      if (input.suspended !== undefined) {
        await c.query(
          `UPDATE ${this.s}.subjects SET suspended = $2, suspended_reason = $3 WHERE id = $1`,
          [input.id, input.suspended, input.suspended ? (input.suspendedReason ?? null) : null],
        );
      }
      if (!input.usage) continue;
      const row = (await this.row(c, input.id))!;
      const period = this.policy.periods.at(
        { timeZone: row.time_zone, anchorMs: Number(row.anchor_ms) },
        nowMs,
      );
      if (period.startMs < Number(row.closed_through_ms)) {
        throw new BadInputError(
          `rows[${i}].usage: subject "${input.id}" has already closed the period ${period.key}`,
          `rows[${i}].usage`,
        );
      }
      for (const [feature, amount] of Object.entries(input.usage)) {
        if (amount <= 0) continue;
        const key = importKey(period.key, feature);
        const seen = await c.query(
          `SELECT 1 FROM ${this.s}.events WHERE subject_rid = $1 AND idem_key = $2`,
          [row.rid, key],
        );
        if (seen.rowCount) continue;
        const counter = await c.query<{ used: string | number }>(
          `INSERT INTO ${this.s}.counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (subject_rid, period_start_ms, feature) DO UPDATE SET used = counters.used + excluded.used
           RETURNING used`,
          [row.rid, period.startMs, feature, period.endMs, period.key, amount],
        );
        await c.query(
          `INSERT INTO ${this.s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
           VALUES ($1, 'consume', $2, $3, $4, $5, $6, $6, $7, NULL, $8, NULL, $9)`,
          [
            row.rid,
            feature,
            period.startMs,
            period.endMs,
            nowMs,
            amount,
            Number(counter.rows[0]!.used),
            key,
            IMPORT_META,
          ],
        );
        written += 1;
      }
    }
    return written;
  }

  async getSubject(id: string): Promise<Subject | null> {
    const r = await this.row(null, id);
    return r ? publicSubject(toSubject(r)) : null;
  }

  /**
   * Keyset by id. With q, two index ranges merged by id: the id's unique
   * index from the cursor (bounded by the page size), and the email index
   * (bounded by the number of emails with that prefix).
   */
  async listSubjects(opts: ListOptions = {}): Promise<Page<Subject>> {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 10_000);
    const values: unknown[] = [opts.after ?? '', limit + 1, opts.plan ?? null];
    const plan = opts.plan ? 'AND plan = $3' : 'AND $3::text IS NULL';
    let rows: SubjectDbRow[];
    if (opts.q) {
      const range = [...values, opts.q, prefixEnd(opts.q)];
      const [byId, byEmail] = await Promise.all([
        this.db.query<SubjectDbRow>(
          `SELECT ${SUBJECT_COLUMNS} FROM ${this.s}.subjects
           WHERE id >= $4 AND id < $5 AND id > $1 ${plan} ORDER BY id LIMIT $2`,
          range,
          { idempotent: true },
        ),
        this.db.query<SubjectDbRow>(
          // MATERIALIZED: the email range is read on its own index, whatever the planner's
          // estimate; walking the id index instead and filtering costs the depth of the page.
          `WITH m AS MATERIALIZED (
             SELECT ${SUBJECT_COLUMNS} FROM ${this.s}.subjects WHERE email COLLATE "C" >= $4 AND email COLLATE "C" < $5
           )
           SELECT * FROM m WHERE id > $1 ${plan} ORDER BY id LIMIT $2`,
          range,
          { idempotent: true },
        ),
      ]);
      rows = mergeById(byId.rows, byEmail.rows, limit + 1);
    } else {
      rows = (
        await this.db.query<SubjectDbRow>(
          `SELECT ${SUBJECT_COLUMNS} FROM ${this.s}.subjects WHERE id > $1 ${plan} ORDER BY id LIMIT $2`,
          values,
          { idempotent: true },
        )
      ).rows;
    }
    const items = rows.slice(0, limit).map((r) => publicSubject(toSubject(r)));
    return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  /** Under the row lock: read the subject, change it, record the audit entry, in one transaction. */
  private async change(
    id: string,
    nowMs: number,
    actor: Actor | undefined,
    audit: (before: Subject, after: Subject) => AuditDraft,
    apply: (c: Client, r: SubjectDbRow) => Promise<SubjectDbRow>,
  ): Promise<Subject> {
    return this.db.tx(
      async (c) => {
        const r = await this.require(c, id, true);
        const before = publicSubject(toSubject(r));
        const after = publicSubject(toSubject(await apply(c, r)));
        await this.recordAudit(c, nowMs, audit(before, after), actor);
        return after;
      },
      { idempotent: false },
    );
  }

  private async set(c: Client, rid: number, set: string, values: readonly unknown[]) {
    const res = await c.query<SubjectDbRow>(
      `UPDATE ${this.s}.subjects SET ${set} WHERE rid = $${values.length + 1} RETURNING ${SUBJECT_COLUMNS}`,
      [...values, rid],
    );
    return res.rows[0]!;
  }

  async setPlan(id: string, plan: string, nowMs: number, actor?: Actor): Promise<Subject> {
    this.policy.catalog.assertPlan(plan);
    return this.change(id, nowMs, actor, AUDIT_OF.plan, (c, r) =>
      this.set(c, r.rid, 'plan = $1', [plan]),
    );
  }

  async setOverride(
    id: string,
    feature: string,
    limit: Limit | undefined,
    nowMs: number,
    actor?: Actor,
  ): Promise<Subject> {
    this.policy.catalog.assertFeature(feature);
    if (limit !== undefined) assertLimitValue(limit, 'limit');
    // Read-modify-write of the overrides document under the row lock keeps key order as SQLite does.
    return this.change(id, nowMs, actor, AUDIT_OF.override, (c, r) =>
      this.set(c, r.rid, 'overrides = $1', [
        JSON.stringify(withOverride(parseOverrides(r.overrides), feature, limit)),
      ]),
    );
  }

  async suspend(id: string, reason: string | null, nowMs: number, actor?: Actor): Promise<Subject> {
    return this.change(id, nowMs, actor, AUDIT_OF.suspend, (c, r) =>
      this.set(c, r.rid, 'suspended = true, suspended_reason = $1', [reason]),
    );
  }

  async unsuspend(id: string, nowMs: number, actor?: Actor): Promise<Subject> {
    return this.change(id, nowMs, actor, AUDIT_OF.unsuspend, (c, r) =>
      this.set(c, r.rid, 'suspended = false, suspended_reason = NULL', []),
    );
  }

  async updateSubject(
    id: string,
    patch: SubjectPatch,
    nowMs: number,
    actor?: Actor,
  ): Promise<Subject> {
    return this.change(id, nowMs, actor, AUDIT_OF.update, (c, r) => {
      const next = resolveSubjectPatch(this.policy, toSubject(r), patch);
      return this.set(c, r.rid, 'email = $1, name = $2', [next.email, next.name]);
    });
  }
}

type PendingUpdate = Pending & { kind: 'update' };

/**
 * What an import does to each subject, rows applied in order: a new id is
 * inserted (later rows of it amend the insert), a known one updated; a row
 * that would change a subject's zone is refused, since it would split the
 * subject's current period.
 */
function planUpsert(
  inputs: readonly ImportedSubject[],
  resolved: readonly ResolvedSubject[],
  existing: ReadonlyMap<string, { rid: number; time_zone: string | null }>,
  ruleZone: string,
): { inserts: ResolvedSubject[]; updates: PendingUpdate[]; added: number; updated: number } {
  const state = new Map<string, Pending>();
  let added = 0;
  let updated = 0;
  resolved.forEach((s, i) => {
    const ex = existing.get(s.id);
    const p = state.get(s.id);
    if (!ex && !p) {
      state.set(s.id, { kind: 'insert', row: s });
      added += 1;
      return;
    }
    const zone = p?.kind === 'insert' ? p.row.timeZone : ex!.time_zone;
    if (inputs[i]!.timeZone && zone !== s.timeZone) {
      throw new BadInputError(
        `rows[${i}].timeZone: subject "${s.id}" already has time zone ${zone ?? ruleZone}; changing it would split its current period`,
        `rows[${i}].timeZone`,
      );
    }
    const hasOverrides = inputs[i]!.overrides !== undefined;
    if (p?.kind === 'insert') {
      p.row = {
        ...p.row,
        plan: s.plan,
        overrides: hasOverrides ? s.overrides : p.row.overrides,
        email: s.email ?? p.row.email,
        name: s.name ?? p.row.name,
      };
    } else {
      const u: Pending & { kind: 'update' } = p ?? {
        kind: 'update',
        rid: ex!.rid,
        plan: s.plan,
        overrides: null,
        email: null,
        name: null,
      };
      u.plan = s.plan;
      if (hasOverrides) u.overrides = JSON.stringify(s.overrides);
      u.email = s.email ?? u.email;
      u.name = s.name ?? u.name;
      state.set(s.id, u);
    }
    updated += 1;
  });
  const inserts: ResolvedSubject[] = [];
  const updates: PendingUpdate[] = [];
  for (const p of state.values()) {
    if (p.kind === 'insert') inserts.push(p.row);
    else updates.push(p);
  }
  return { inserts, updates, added, updated };
}
