import { SubjectExistsError, SubjectNotFoundError, BadInputError } from '../../core/errors.js';
import type { Limit } from '../../core/plans.js';
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
import { IMPORT_META } from '../row-mapping.js';
import { RollBack, resultOfSync } from '../dry-run.js';
import { importKey } from '../../core/validate.js';
import { assertLimitValue } from '../../core/plans.js';
import type { StoreSubjects, SubjectRow } from '../quota-store.js';
import type { Synchronous } from '../shared/compose-store.js';
import type BetterSqlite3 from 'better-sqlite3';
import type { Actor, SubjectPatch } from '../../core/admin-types.js';
import { resolveSubjectPatch, withOverride } from '../../core/subject-rules.js';
import {
  AUDIT_INSERT_COLUMNS,
  AUDIT_OF,
  auditValues,
  createdAudit,
  mergeById,
  prefixEnd,
  type AuditDraft,
} from '../admin-mapping.js';
import type { Db } from './connection.js';
import {
  SUBJECT_COLUMNS,
  parseOverrides,
  publicSubject,
  toSubject,
  type SubjectDbRow,
} from './rows.js';

/** The subjects role: subjects, their plans, overrides and suspension. */
export class SqliteSubjects implements Synchronous<StoreSubjects> {
  private readonly byId;
  private readonly insert;
  private readonly audit;

  constructor(
    private readonly db: Db,
    private readonly policy: QuotaPolicy,
  ) {
    this.byId = db.prepare(`SELECT ${SUBJECT_COLUMNS} FROM subjects WHERE id = ?`);
    this.insert = db.prepare(
      `INSERT INTO subjects (id, plan, overrides, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key)
       VALUES (@id, @plan, @overrides, @timeZone, @anchorMs, @email, @name, @createdMs, @closedThroughMs, @openEndMs, @openKey)
       RETURNING ${SUBJECT_COLUMNS}`,
    );
    this.audit = db.prepare(
      `INSERT INTO audit (${AUDIT_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  row(id: string): SubjectDbRow | undefined {
    return this.byId.get(id) as SubjectDbRow | undefined;
  }

  require(id: string): SubjectDbRow {
    const r = this.row(id);
    if (!r) throw new SubjectNotFoundError(id);
    return r;
  }

  insertResolved(s: ResolvedSubject): SubjectDbRow {
    return this.insert.get({ ...s, overrides: JSON.stringify(s.overrides) }) as SubjectDbRow;
  }

  /** Written inside the caller's transaction, so the entry commits or rolls back with its change. */
  recordAudit(nowMs: number, draft: AuditDraft, actor?: Actor): void {
    this.audit.run(auditValues(nowMs, draft, actor));
  }

  addSubject(input: NewSubject, nowMs: number, actor?: Actor): Subject {
    const resolved = resolveNewSubject(this.policy, input, nowMs);
    return this.db
      .transaction(() => {
        if (this.row(resolved.id)) throw new SubjectExistsError(resolved.id);
        const created = publicSubject(toSubject(this.insertResolved(resolved)));
        this.recordAudit(nowMs, createdAudit(created), actor);
        return created;
      })
      .immediate();
  }

  upsertSubjects(
    inputs: readonly ImportedSubject[],
    nowMs: number,
    { dryRun = false }: { dryRun?: boolean } = {},
  ): UpsertResult {
    return resultOfSync(() => this.upsertInTx(inputs, nowMs, dryRun));
  }

  private upsertInTx(
    inputs: readonly ImportedSubject[],
    nowMs: number,
    dryRun: boolean,
  ): UpsertResult {
    // Resolve every row before opening the transaction: a bad row refuses the whole batch.
    const resolved = inputs.map((s, i) => resolveNewSubject(this.policy, s, nowMs, `rows[${i}]`));
    const update = this.db.prepare(
      `UPDATE subjects SET plan = @plan, overrides = CASE WHEN @hasOverrides THEN @overrides ELSE overrides END,
         email = COALESCE(@email, email), name = COALESCE(@name, name) WHERE rid = @rid`,
    );
    return this.db
      .transaction(() => {
        let added = 0;
        let updated = 0;
        let usageImported = 0;
        const extras = (i: number) => {
          const input = inputs[i]!;
          if (input.suspended !== undefined) {
            this.db
              .prepare('UPDATE subjects SET suspended = ?, suspended_reason = ? WHERE id = ?')
              .run(
                input.suspended ? 1 : 0,
                input.suspended ? (input.suspendedReason ?? null) : null,
                input.id,
              );
          }
          if (input.usage) usageImported += this.importUsage(input.id, input.usage, nowMs, i);
        };
        resolved.forEach((s, i) => {
          const existing = this.row(s.id);
          if (!existing) {
            this.insertResolved(s);
            added += 1;
            extras(i);
            return;
          }
          if (inputs[i]!.timeZone && existing.time_zone !== s.timeZone) {
            throw new BadInputError(
              `rows[${i}].timeZone: subject "${s.id}" already has time zone ${existing.time_zone ?? this.policy.rule.timeZone}; changing it would split its current period`,
              `rows[${i}].timeZone`,
            );
          }
          update.run({
            rid: existing.rid,
            plan: s.plan,
            hasOverrides: inputs[i]!.overrides === undefined ? 0 : 1,
            overrides: JSON.stringify(s.overrides),
            email: s.email,
            name: s.name,
          });
          updated += 1;
          extras(i);
        });
        this.recordAudit(nowMs, {
          action: 'subject.import',
          subject: null,
          before: null,
          after: { added, updated, usageImported },
        });
        if (dryRun) throw new RollBack({ added, updated, usageImported });
        return { added, updated, usageImported };
      })
      .immediate();
  }

  private imports: Record<'seen' | 'add' | 'event', BetterSqlite3.Statement> | undefined;

  /** Prepared on the first import with usage, then reused for every row. */
  private importStatements() {
    this.imports ??= {
      seen: this.db.prepare('SELECT 1 FROM events WHERE subject_rid = ? AND idem_key = ?'),
      add: this.db.prepare(
        `INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (subject_rid, period_start_ms, feature) DO UPDATE SET used = counters.used + excluded.used
         RETURNING used`,
      ),
      event: this.db.prepare(
        `INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
         VALUES (?, 'consume', ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, ?)`,
      ),
    };
    return this.imports;
  }

  /**
   * Usage counted outside quotaclock, in the subject's period containing
   * nowMs: one import event per feature, keyed by period and feature, so a
   * second import of the same period adds nothing. Returns the events written.
   */
  private importUsage(
    id: string,
    usage: Readonly<Record<string, number>>,
    nowMs: number,
    i: number,
  ): number {
    const row = this.require(id);
    const period = this.policy.periods.at(
      { timeZone: row.time_zone, anchorMs: row.anchor_ms },
      nowMs,
    );
    if (period.startMs < row.closed_through_ms) {
      throw new BadInputError(
        `rows[${i}].usage: subject "${id}" has already closed the period ${period.key}`,
        `rows[${i}].usage`,
      );
    }
    let written = 0;
    for (const [feature, amount] of Object.entries(usage)) {
      if (amount <= 0) continue;
      const key = importKey(period.key, feature);
      const st = this.importStatements();
      if (st.seen.get(row.rid, key)) continue;
      const { used } = st.add.get(
        row.rid,
        period.startMs,
        feature,
        period.endMs,
        period.key,
        amount,
      ) as {
        used: number;
      };
      st.event.run(
        row.rid,
        feature,
        period.startMs,
        period.endMs,
        nowMs,
        amount,
        amount,
        used,
        key,
        IMPORT_META,
      );
      written += 1;
    }
    return written;
  }

  getSubject(id: string): Subject | null {
    const r = this.row(id);
    return r ? publicSubject(toSubject(r)) : null;
  }

  /**
   * Keyset by id. With q, two index ranges merged by id: the id's unique
   * index from the cursor (bounded by the page size), and the email index
   * (bounded by the number of emails with that prefix).
   */
  listSubjects(opts: ListOptions = {}): Page<Subject> {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 10_000);
    const after = opts.after ?? '';
    const plan = opts.plan ? 'AND plan = @plan' : '';
    const params = { after, plan: opts.plan ?? null, limit: limit + 1 };
    let rows: SubjectDbRow[];
    if (opts.q) {
      const range = { ...params, lo: opts.q, hi: prefixEnd(opts.q) };
      const byId = this.db
        .prepare(
          `SELECT ${SUBJECT_COLUMNS} FROM subjects WHERE id >= @lo AND id < @hi AND id > @after ${plan} ORDER BY id LIMIT @limit`,
        )
        .all(range) as SubjectDbRow[];
      const byEmail = this.db
        .prepare(
          `SELECT ${SUBJECT_COLUMNS} FROM subjects INDEXED BY subjects_email WHERE email >= @lo AND email < @hi AND id > @after ${plan} ORDER BY id LIMIT @limit`,
        )
        .all(range) as SubjectDbRow[];
      rows = mergeById(byId, byEmail, limit + 1);
    } else {
      rows = this.db
        .prepare(
          `SELECT ${SUBJECT_COLUMNS} FROM subjects WHERE id > @after ${plan} ORDER BY id LIMIT @limit`,
        )
        .all(params) as SubjectDbRow[];
    }
    const items = rows.slice(0, limit).map((r) => publicSubject(toSubject(r)));
    return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  private change(
    id: string,
    nowMs: number,
    actor: Actor | undefined,
    audit: (before: Subject, after: Subject) => AuditDraft,
    apply: (r: SubjectDbRow) => void,
  ): Subject {
    return this.db
      .transaction(() => {
        const r = this.require(id);
        const before = publicSubject(toSubject(r));
        apply(r);
        const after = publicSubject(toSubject(this.require(id)));
        this.recordAudit(nowMs, audit(before, after), actor);
        return after;
      })
      .immediate();
  }

  setPlan(id: string, plan: string, nowMs: number, actor?: Actor): Subject {
    this.policy.catalog.assertPlan(plan);
    return this.change(id, nowMs, actor, AUDIT_OF.plan, (r) => {
      this.db.prepare('UPDATE subjects SET plan = ? WHERE rid = ?').run(plan, r.rid);
    });
  }

  setOverride(
    id: string,
    feature: string,
    limit: Limit | undefined,
    nowMs: number,
    actor?: Actor,
  ): Subject {
    this.policy.catalog.assertFeature(feature);
    if (limit !== undefined) assertLimitValue(limit, 'limit');
    return this.change(id, nowMs, actor, AUDIT_OF.override, (r) => {
      this.db
        .prepare('UPDATE subjects SET overrides = ? WHERE rid = ?')
        .run(JSON.stringify(withOverride(parseOverrides(r.overrides), feature, limit)), r.rid);
    });
  }

  suspend(id: string, reason: string | null, nowMs: number, actor?: Actor): Subject {
    return this.change(id, nowMs, actor, AUDIT_OF.suspend, (r) => {
      this.db
        .prepare('UPDATE subjects SET suspended = 1, suspended_reason = ? WHERE rid = ?')
        .run(reason, r.rid);
    });
  }

  unsuspend(id: string, nowMs: number, actor?: Actor): Subject {
    return this.change(id, nowMs, actor, AUDIT_OF.unsuspend, (r) => {
      this.db
        .prepare('UPDATE subjects SET suspended = 0, suspended_reason = NULL WHERE rid = ?')
        .run(r.rid);
    });
  }

  updateSubject(id: string, patch: SubjectPatch, nowMs: number, actor?: Actor): Subject {
    return this.change(id, nowMs, actor, AUDIT_OF.update, (r) => {
      const next = resolveSubjectPatch(this.policy, toSubject(r), patch);
      this.db
        .prepare('UPDATE subjects SET email = ?, name = ? WHERE rid = ?')
        .run(next.email, next.name, r.rid);
    });
  }
}

export type { SubjectRow };
