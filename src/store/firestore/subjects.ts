import {
  FieldPath,
  type DocumentData,
  type DocumentReference,
  type DocumentSnapshot,
} from '@google-cloud/firestore';
import { BadInputError, SubjectExistsError } from '../../core/errors.js';
import { assertLimitValue, type Limit, type Limits } from '../../core/plans.js';
import { resolveNewSubject, type ResolvedSubject } from '../../core/subject-rules.js';
import type { Period } from '../../core/period.js';
import type {
  ImportedSubject,
  ListOptions,
  NewSubject,
  Page,
  Subject,
  UpsertResult,
} from '../../core/types.js';
import { importKey } from '../../core/validate.js';
import { runTx } from './client.js';
import type { Actor, SubjectPatch } from '../../core/admin-types.js';
import { resolveSubjectPatch, withOverride } from '../../core/subject-rules.js';
import { AUDIT_OF, createdAudit, mergeById, prefixEnd, type AuditDraft } from '../admin-mapping.js';
import type { StoreSubjects } from '../quota-store.js';
import type { FsContext } from './context.js';
import { eventDocument } from './usage.js';
import {
  adoptionFields,
  ctxOf,
  keyedEventId,
  setIn,
  legacyLimitsMap,
  LEGACY_DEFAULT_PLAN,
  limitsOf,
  newQuotaDocument,
  newSeq,
  parseQuotaDoc,
  setQc,
  subjectOf,
  ts,
  type DocFields,
  type QuotaDoc,
} from './layout.js';

/** Above this many rows an import is validated whole first, then written in chunks of it. */
const TX_ROWS = 400;

const resolvedSubject = (s: ResolvedSubject): Subject => ({
  id: s.id,
  plan: s.plan,
  overrides: s.overrides,
  suspended: false,
  suspendedReason: null,
  timeZone: s.timeZone,
  anchor: new Date(s.anchorMs).toISOString(),
  email: s.email,
  name: s.name,
  createdAt: new Date(s.createdMs).toISOString(),
});

const importAudit = (after: UpsertResult): AuditDraft => ({
  action: 'subject.import',
  subject: null,
  before: null,
  after,
});

/** Writes the display name where the document keeps it (new documents get both spellings). */
function nameFields(d: QuotaDoc | null, name: string): DocFields {
  if (d?.nameField) return { [d.nameField]: name };
  return { user_display_name: name, user_displayName: name };
}

export class FsSubjects implements StoreSubjects {
  constructor(private readonly ctx: FsContext) {}

  private get policy() {
    return this.ctx.policy;
  }

  async addSubject(input: NewSubject, nowMs: number, actor?: Actor): Promise<Subject> {
    const resolved = resolveNewSubject(this.policy, input, nowMs);
    const ref = this.ctx.quotaRef(resolved.id);
    return this.ctx.serial(resolved.id, () =>
      runTx(this.ctx.db, async (tx) => {
        const snap = await tx.get(ref);
        if (snap.exists) throw new SubjectExistsError(resolved.id);
        tx.create(ref, newQuotaDocument(this.policy, resolved, nowMs, newSeq()));
        const created = resolvedSubject(resolved);
        this.ctx.audit(tx, nowMs, createdAudit(created), actor);
        return created;
      }),
    );
  }

  /**
   * Adds or updates many subjects. Every row is resolved first, so one bad
   * row refuses the whole import before anything is written; up to TX_ROWS
   * subjects are then written in one transaction.
   */
  async upsertSubjects(
    inputs: readonly ImportedSubject[],
    nowMs: number,
    { dryRun = false }: { dryRun?: boolean } = {},
  ): Promise<UpsertResult> {
    const resolved = inputs.map((s, i) => resolveNewSubject(this.policy, s, nowMs, `rows[${i}]`));
    const ids = [...new Set(resolved.map((s) => s.id))];
    const audit = (plan: { added: number; updated: number; usageImported: number }) => ({
      added: plan.added,
      updated: plan.updated,
      usageImported: plan.usageImported,
    });
    if (ids.length <= TX_ROWS) {
      return runTx(this.ctx.db, async (tx) => {
        const snaps = ids.length ? await tx.getAll(...ids.map((id) => this.ctx.quotaRef(id))) : [];
        const keyRefs = this.importEventRefs(inputs, resolved, snaps, nowMs);
        const seen = keyRefs.length ? await tx.getAll(...keyRefs) : [];
        const plan = this.plan(inputs, resolved, snaps, seen, nowMs);
        // A transaction that only read commits nothing.
        if (dryRun) return audit(plan);
        for (const [id, w] of plan.writes) {
          if (w.create) tx.create(this.ctx.quotaRef(id), w.create);
          else tx.update(this.ctx.quotaRef(id), w.update!);
        }
        for (const [ref, data] of plan.events) tx.create(ref, data);
        this.ctx.audit(tx, nowMs, importAudit(audit(plan)));
        return audit(plan);
      });
    }
    // Validate against every existing document before the first write.
    const snaps: DocumentSnapshot[] = [];
    for (let i = 0; i < ids.length; i += 300) {
      snaps.push(
        ...(await this.ctx.db.getAll(...ids.slice(i, i + 300).map((id) => this.ctx.quotaRef(id)))),
      );
    }
    const keyRefs = this.importEventRefs(inputs, resolved, snaps, nowMs);
    const seen: DocumentSnapshot[] = [];
    for (let i = 0; i < keyRefs.length; i += 300)
      seen.push(...(await this.ctx.db.getAll(...keyRefs.slice(i, i + 300))));
    const plan = this.plan(inputs, resolved, snaps, seen, nowMs);
    if (dryRun) return audit(plan);
    const eventsOf = new Map<string, Array<[DocumentReference, DocumentData]>>();
    for (const [ref, data] of plan.events) {
      const uid = ref.parent.parent!.id;
      eventsOf.set(uid, [...(eventsOf.get(uid) ?? []), [ref, data]]);
    }
    const entries = [...plan.writes];
    for (let i = 0; i < entries.length; i += TX_ROWS) {
      const chunk = entries.slice(i, i + TX_ROWS);
      const batch = this.ctx.db.batch();
      for (const [id, w] of chunk) {
        const snap = snaps.find((s) => s.id === id);
        if (w.create) batch.create(this.ctx.quotaRef(id), w.create);
        else batch.update(this.ctx.quotaRef(id), w.update!, { lastUpdateTime: snap!.updateTime! });
        for (const [ref, data] of eventsOf.get(id) ?? []) batch.create(ref, data);
      }
      if (i + TX_ROWS >= entries.length) this.ctx.audit(batch, nowMs, importAudit(audit(plan)));
      await batch.commit();
    }
    return audit(plan);
  }

  /** The period imported usage of a row lands in: the document's period containing nowMs. */
  private importPeriod(d: QuotaDoc | null, r: ResolvedSubject, nowMs: number): Period {
    return this.policy.periods.at(
      d ? ctxOf(d) : { timeZone: r.timeZone, anchorMs: r.anchorMs },
      nowMs,
    );
  }

  /** The keyed event documents that would record each row's imported usage. */
  private importEventRefs(
    inputs: readonly ImportedSubject[],
    resolved: readonly ResolvedSubject[],
    snaps: readonly DocumentSnapshot[],
    nowMs: number,
  ): DocumentReference[] {
    const refs = new Map<string, DocumentReference>();
    inputs.forEach((input, i) => {
      if (!input.usage) return;
      const snap = snaps.find((s) => s.id === input.id);
      const d = snap?.exists ? parseQuotaDoc(this.policy, snap, nowMs) : null;
      const period = this.importPeriod(d, resolved[i]!, nowMs);
      for (const f of Object.keys(input.usage)) {
        const ref = this.ctx.eventsOf(input.id).doc(keyedEventId(importKey(period.key, f)));
        refs.set(ref.path, ref);
      }
    });
    return [...refs.values()];
  }

  /** Applies the rows in order to what exists, the way SQLite's row-by-row upsert does. */
  private plan(
    inputs: readonly ImportedSubject[],
    resolved: readonly ResolvedSubject[],
    snaps: readonly DocumentSnapshot[],
    seenEvents: readonly DocumentSnapshot[],
    nowMs: number,
  ): {
    added: number;
    updated: number;
    usageImported: number;
    writes: Map<string, { create?: DocumentData; update?: DocFields }>;
    events: Array<[DocumentReference, DocumentData]>;
  } {
    const existing = new Map<string, QuotaDoc>();
    for (const snap of snaps)
      if (snap.exists) existing.set(snap.id, parseQuotaDoc(this.policy, snap, nowMs));
    const created = new Map<string, DocumentData>();
    const state = new Map<
      string,
      {
        plan: string;
        overrides: Limits;
        email: string | null;
        name: string | null;
        zone: string | null;
      }
    >();
    let added = 0;
    let updated = 0;
    resolved.forEach((s, i) => {
      const before = existing.get(s.id);
      const current = state.get(s.id);
      if (!before && !current) {
        created.set(s.id, newQuotaDocument(this.policy, s, nowMs, newSeq()));
        state.set(s.id, {
          plan: s.plan,
          overrides: s.overrides,
          email: s.email,
          name: s.name,
          zone: s.timeZone,
        });
        added += 1;
        return;
      }
      const was = current ?? {
        plan: before!.plan,
        overrides: before!.overrides,
        email: before!.email,
        name: before!.name,
        zone: before!.timeZone,
      };
      if (inputs[i]!.timeZone && was.zone !== s.timeZone) {
        throw new BadInputError(
          `rows[${i}].timeZone: subject "${s.id}" already has time zone ${was.zone ?? this.policy.rule.timeZone}; changing it would split its current period`,
          `rows[${i}].timeZone`,
        );
      }
      state.set(s.id, {
        plan: s.plan,
        overrides: inputs[i]!.overrides === undefined ? was.overrides : s.overrides,
        email: s.email ?? was.email,
        name: s.name ?? was.name,
        zone: was.zone,
      });
      updated += 1;
    });
    const writes = new Map<string, { create?: DocumentData; update?: DocFields }>();
    for (const [id, st] of state) {
      const limits = legacyLimitsMap(limitsOf(this.policy, st.plan, st.overrides));
      const fresh = created.get(id);
      if (fresh) {
        fresh.plan_type = st.plan;
        fresh.quota_limits = limits;
        (fresh.quotaclock as Record<string, unknown>).overrides = { ...st.overrides };
        if (st.email) fresh.user_email = st.email;
        if (st.name) Object.assign(fresh, nameFields(null, st.name));
        writes.set(id, { create: fresh });
        continue;
      }
      const d = existing.get(id)!;
      const fields = adoptionFields(d, nowMs);
      setQc(fields, 'overrides', { ...st.overrides });
      fields.plan_type = st.plan;
      if (st.plan !== d.plan) fields.plan_updated_at = ts(nowMs);
      fields.quota_limits = limits;
      if (st.email && st.email !== d.email) fields.user_email = st.email;
      if (st.name && st.name !== d.name) Object.assign(fields, nameFields(d, st.name));
      fields.updated_at = ts(nowMs);
      writes.set(id, { update: fields });
    }
    const extras = this.planExtras(inputs, resolved, existing, seenEvents, writes, nowMs);
    return { added, updated, writes, ...extras };
  }

  /**
   * Suspensions and imported usage, written into the planned writes: each
   * feature's usage goes to the counters of the document's current period
   * with one keyed import event, unless that event exists already.
   */
  private planExtras(
    inputs: readonly ImportedSubject[],
    resolved: readonly ResolvedSubject[],
    existing: ReadonlyMap<string, QuotaDoc>,
    seenEvents: readonly DocumentSnapshot[],
    writes: Map<string, { create?: DocumentData; update?: DocFields }>,
    nowMs: number,
  ): { usageImported: number; events: Array<[DocumentReference, DocumentData]> } {
    const seen = new Set(seenEvents.filter((s) => s.exists).map((s) => s.ref.path));
    const events = new Map<string, [DocumentReference, DocumentData]>();
    inputs.forEach((input, i) => {
      const w = writes.get(input.id)!;
      const target: DocFields = w.create ?? w.update!;
      if (input.suspended !== undefined) {
        target.is_suspended = input.suspended;
        target.suspension_reason = input.suspended ? (input.suspendedReason ?? null) : null;
      }
      if (!input.usage) return;
      const d = existing.get(input.id) ?? null;
      const period = this.importPeriod(d, resolved[i]!, nowMs);
      const current = d
        ? d.current
        : this.importPeriod(null, resolved[i]!, resolved[i]!.closedThroughMs);
      if (period.startMs !== current.startMs) {
        throw new BadInputError(
          `rows[${i}].usage: the document of "${input.id}" is still in the period ${current.key}; run quotaclock reset before importing usage for ${period.key}`,
          `rows[${i}].usage`,
        );
      }
      for (const [feature, amount] of Object.entries(input.usage)) {
        if (amount <= 0) continue;
        const key = importKey(period.key, feature);
        const ref = this.ctx.eventsOf(input.id).doc(keyedEventId(key));
        if (seen.has(ref.path) || events.has(ref.path)) continue;
        let used: number;
        if (w.create) {
          const usage = w.create.current_usage as Record<string, number>;
          used = (usage[feature] ?? 0) + amount;
          usage[feature] = used;
        } else {
          used = (d!.currentUsed[feature] ?? 0) + amount;
          setIn(target, 'current_usage', feature, used);
        }
        events.set(ref.path, [
          ref,
          eventDocument(
            input.id,
            {
              kind: 'consume',
              feature,
              period,
              atMs: nowMs,
              amount,
              delta: amount,
              usedAfter: used,
              limit: null,
              key,
              outcome: null,
              meta: { source: 'import' },
            },
            newSeq(),
          ),
        ]);
      }
    });
    return { usageImported: events.size, events: [...events.values()] };
  }

  async getSubject(id: string): Promise<Subject | null> {
    const d = await this.ctx.read(id, this.ctx.now());
    return d ? subjectOf(d) : null;
  }

  async listSubjects(opts: ListOptions = {}): Promise<Page<Subject>> {
    const nowMs = this.ctx.now();
    if (opts.q) return this.search(opts, opts.q, nowMs);
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 10_000);
    const items: Subject[] = [];
    let after = opts.after ?? null;
    // Documents without plan_type are on the old default plan, which no index can find: filter here.
    const scan = opts.plan === undefined || opts.plan === LEGACY_DEFAULT_PLAN;
    for (;;) {
      let q = this.ctx.quotas().orderBy(FieldPath.documentId());
      if (!scan) q = q.where('plan_type', '==', opts.plan);
      if (after) q = q.startAfter(after);
      const page = await q.limit(scan ? Math.min(limit + 1, 1000) : limit + 1).get();
      for (const snap of page.docs) {
        const d = parseQuotaDoc(this.policy, snap, nowMs);
        if (opts.plan !== undefined && d.plan !== opts.plan) continue;
        items.push(subjectOf(d));
        if (items.length > limit) break;
      }
      if (items.length > limit || page.size === 0 || !scan) break;
      after = page.docs[page.docs.length - 1]!.id;
      if (page.size < Math.min(limit + 1, 1000)) break;
    }
    const out = items.slice(0, limit);
    return { items: out, next: items.length > limit ? out[out.length - 1]!.id : null };
  }

  /**
   * q is a prefix of the document id or of user_email: two range queries on
   * their indexes (the id's keyset from the cursor; the email range read
   * whole, so its cost is the number of emails with that prefix), merged by id.
   */
  private async search(opts: ListOptions, q: string, nowMs: number): Promise<Page<Subject>> {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 10_000);
    const after = opts.after ?? '';
    const hi = prefixEnd(q);
    const keep = (d: QuotaDoc) => d.id > after && (opts.plan === undefined || d.plan === opts.plan);
    const byId: Subject[] = [];
    let cursor = after >= q ? after : null;
    for (;;) {
      let query = this.ctx
        .quotas()
        .where(FieldPath.documentId(), '>=', q)
        .where(FieldPath.documentId(), '<', hi)
        .orderBy(FieldPath.documentId());
      if (cursor) query = query.startAfter(cursor);
      const page = await query.limit(1000).get();
      for (const snap of page.docs) {
        const d = parseQuotaDoc(this.policy, snap, nowMs);
        if (keep(d)) byId.push(subjectOf(d));
      }
      if (byId.length > limit || page.size < 1000) break;
      cursor = page.docs[page.docs.length - 1]!.id;
    }
    const byEmail: Subject[] = [];
    let emailCursor: DocumentSnapshot | null = null;
    for (;;) {
      let query = this.ctx
        .quotas()
        .where('user_email', '>=', q)
        .where('user_email', '<', hi)
        .orderBy('user_email');
      if (emailCursor) query = query.startAfter(emailCursor);
      const page = await query.limit(1000).get();
      for (const snap of page.docs) {
        const d = parseQuotaDoc(this.policy, snap, nowMs);
        if (keep(d)) byEmail.push(subjectOf(d));
      }
      if (page.size < 1000) break;
      emailCursor = page.docs[page.docs.length - 1]!;
    }
    const rows = mergeById(byId, byEmail, limit + 1);
    const items = rows.slice(0, limit);
    return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  private async change(
    id: string,
    nowMs: number,
    actor: Actor | undefined,
    audit: (before: Subject, after: Subject) => AuditDraft,
    apply: (d: QuotaDoc, fields: DocFields) => Partial<Subject>,
  ): Promise<Subject> {
    return this.ctx.serial(id, () =>
      runTx(this.ctx.db, async (tx) => {
        const d = await this.ctx.requireIn(tx, id, nowMs);
        const fields = adoptionFields(d, nowMs);
        const changed = apply(d, fields);
        fields.updated_at = ts(nowMs);
        tx.update(this.ctx.quotaRef(id), fields);
        const before = subjectOf(d);
        const after = { ...before, ...changed };
        this.ctx.audit(tx, nowMs, audit(before, after), actor);
        return after;
      }),
    );
  }

  setPlan(id: string, plan: string, nowMs: number, actor?: Actor): Promise<Subject> {
    this.policy.catalog.assertPlan(plan);
    return this.change(id, nowMs, actor, AUDIT_OF.plan, (d, fields) => {
      fields.plan_type = plan;
      fields.plan_updated_at = ts(nowMs);
      fields.quota_limits = legacyLimitsMap(limitsOf(this.policy, plan, d.overrides));
      setQc(fields, 'overrides', { ...d.overrides });
      return { plan };
    });
  }

  setOverride(
    id: string,
    feature: string,
    limit: Limit | undefined,
    nowMs: number,
    actor?: Actor,
  ): Promise<Subject> {
    this.policy.catalog.assertFeature(feature);
    if (limit !== undefined) assertLimitValue(limit, 'limit');
    return this.change(id, nowMs, actor, AUDIT_OF.override, (d, fields) => {
      const o = withOverride(d.overrides, feature, limit);
      setQc(fields, 'overrides', o);
      fields.quota_limits = legacyLimitsMap(limitsOf(this.policy, d.plan, o));
      return { overrides: o };
    });
  }

  suspend(id: string, reason: string | null, nowMs: number, actor?: Actor): Promise<Subject> {
    return this.change(id, nowMs, actor, AUDIT_OF.suspend, (_d, fields) => {
      fields.is_suspended = true;
      fields.suspension_reason = reason;
      return { suspended: true, suspendedReason: reason };
    });
  }

  unsuspend(id: string, nowMs: number, actor?: Actor): Promise<Subject> {
    return this.change(id, nowMs, actor, AUDIT_OF.unsuspend, (_d, fields) => {
      fields.is_suspended = false;
      fields.suspension_reason = null;
      return { suspended: false, suspendedReason: null };
    });
  }

  updateSubject(id: string, patch: SubjectPatch, nowMs: number, actor?: Actor): Promise<Subject> {
    return this.change(id, nowMs, actor, AUDIT_OF.update, (d, fields) => {
      const next = resolveSubjectPatch(this.policy, subjectOf(d), patch);
      // The earlier system's documents hold the email in user_email; an absent one reads as null.
      fields.user_email = next.email;
      // An empty name reads as none, in the field the document already uses.
      if (next.name !== d.name) Object.assign(fields, nameFields(d, next.name ?? ''));
      return { email: next.email, name: next.name };
    });
  }
}
