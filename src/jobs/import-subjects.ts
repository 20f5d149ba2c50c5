import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { QuotaClockError, isQuotaClockError } from '../core/errors.js';
import { decodeInstant, isLegacyDocument, readLegacyDocument } from '../core/legacy-document.js';
import { resolveNewSubject } from '../core/subject-rules.js';
import { decodeUtf8Strict } from './strict-utf8.js';
import type { Limits } from '../core/plans.js';
import type { ImportedSubject, NewSubject, Subject } from '../core/types.js';
import type { QuotaClock } from '../quotaclock.js';

/**
 * Column names accepted in an import. The old Firestore layout's names are
 * accepted too, so an export of `userQuotas` documents imports as it is.
 */
const ALIASES: Record<string, keyof NewSubject | 'suspended' | 'suspendedReason' | 'ignore'> = {
  id: 'id',
  user_uid: 'id',
  uid: 'id',
  plan: 'plan',
  plan_type: 'plan',
  time_zone: 'timeZone',
  timezone: 'timeZone',
  timeZone: 'timeZone',
  email: 'email',
  user_email: 'email',
  name: 'name',
  display_name: 'name',
  user_display_name: 'name',
  user_displayName: 'name',
  anchor: 'anchor',
  signup: 'anchor',
  created_at: 'anchor',
  overrides: 'overrides',
};

export interface ImportRowError {
  readonly line: number;
  readonly message: string;
}

export interface ImportResult {
  readonly dryRun: boolean;
  readonly rows: number;
  readonly added: number;
  /** Existing subjects whose plan, overrides, email or name the file changes. */
  readonly updated: number;
  /** Existing subjects the file leaves as they are (a re-import of the same file). */
  readonly unchanged: number;
  /** Features whose usage this month came across as an import event (a dry run: would). */
  readonly usageImported: number;
  /** Old documents' fields read with the old defaults, or usage left behind, by line. */
  readonly notes: readonly string[];
}

/** Whether upserting `s` would change anything the import writes on an existing subject. */
function changes(qc: QuotaClock, s: ImportedSubject, existing: Subject, nowMs: number): boolean {
  const r = resolveNewSubject(qc.policy, s, nowMs, 'row');
  if (r.plan !== existing.plan) return true;
  if (s.overrides !== undefined && !sameLimits(r.overrides, existing.overrides)) return true;
  if (s.suspended !== undefined && s.suspended !== existing.suspended) return true;
  if (r.email !== null && r.email !== existing.email) return true;
  return r.name !== null && r.name !== existing.name;
}

function sameLimits(a: Limits, b: Limits): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function readRows(path: string): Array<{ line: number; row: Record<string, unknown> }> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new QuotaClockError(
      'BAD_INPUT',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      { where: 'file' },
    );
  }
  const text = decodeUtf8Strict(bytes, path);
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') {
    const out: Array<{ line: number; row: Record<string, unknown> }> = [];
    const errors: ImportRowError[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      if (raw.trim() === '') return;
      try {
        const v = JSON.parse(raw) as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v))
          throw new Error('expected a JSON object');
        out.push({ line: i + 1, row: v as Record<string, unknown> });
      } catch (e) {
        errors.push({ line: i + 1, message: `not valid JSON: ${(e as Error).message}` });
      }
    });
    if (errors.length) throw importError(path, errors);
    return out;
  }
  if (ext !== '.csv') {
    throw new QuotaClockError('BAD_INPUT', `${path}: expected a .csv or .jsonl file`, {
      where: 'file',
    });
  }
  try {
    const records = parseCsv(text, {
      columns: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
      bom: true,
    }) as Array<{
      record: Record<string, string>;
      info: { lines: number };
    }>;
    return records.map((r) => ({ line: r.info.lines, row: r.record }));
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw importError(path, [{ line: err.lines ?? 0, message: err.message }]);
  }
}

function importError(path: string, errors: readonly ImportRowError[]): QuotaClockError {
  const shown = errors.slice(0, 50).map((e) => `line ${e.line}: ${e.message}`);
  if (errors.length > 50) shown.push(`… and ${errors.length - 50} more`);
  return new QuotaClockError(
    'IMPORT_INVALID',
    `${path}: ${errors.length} bad row(s); nothing was imported\n  ${shown.join('\n  ')}`,
    {
      where: `line ${errors[0]!.line}`,
      details: shown,
    },
  );
}

function toNewSubject(row: Record<string, unknown>): NewSubject {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const field = ALIASES[column] ?? ALIASES[column.trim().toLowerCase()];
    if (!field)
      throw new QuotaClockError(
        'BAD_INPUT',
        `unknown column "${column}" (known: id, plan, time_zone, email, name, anchor, overrides)`,
        { where: column },
      );
    if (field === 'ignore' || value === '' || value === undefined || value === null) continue;
    if (field === 'overrides' && typeof value === 'string') {
      try {
        out.overrides = JSON.parse(value);
      } catch {
        throw new QuotaClockError(
          'BAD_INPUT',
          'overrides: expected a JSON object such as {"stock_reports": 20}',
          { where: 'overrides' },
        );
      }
      continue;
    }
    if (field === 'anchor' && typeof value === 'object') {
      // A Firestore Timestamp exported as JSON ({"$timestamp": …}, {_seconds, …}).
      const ms = decodeInstant(value);
      if (ms === undefined)
        throw new QuotaClockError(
          'BAD_INPUT',
          `${column}: not a timestamp: ${JSON.stringify(value)}`,
          {
            where: column,
          },
        );
      out.anchor = new Date(ms).toISOString();
      continue;
    }
    if (field === 'email' && value === 'N/A') continue;
    if (typeof value === 'object' && field !== 'overrides')
      throw new QuotaClockError(
        'BAD_INPUT',
        `${column}: expected text, got ${JSON.stringify(value)}`,
        {
          where: column,
        },
      );
    out[field] = value;
  }
  return out as unknown as NewSubject;
}

/** All or nothing: every row is checked first; one bad row refuses the file. */
export async function importSubjects(
  qc: QuotaClock,
  path: string,
  opts: { dryRun?: boolean; now?: number } = {},
): Promise<ImportResult> {
  const nowMs = opts.now ?? qc.now();
  const rows = readRows(path);
  const errors: ImportRowError[] = [];
  const notes: string[] = [];
  const seen = new Map<string, number>();
  const subjects: ImportedSubject[] = [];
  for (const { line, row } of rows) {
    try {
      let s: ImportedSubject;
      if (isLegacyDocument(row)) {
        const r = readLegacyDocument(qc.policy, row, nowMs);
        if (!r.subject) continue;
        s = r.subject;
        notes.push(...r.notes.map((n) => `line ${line}: ${n}`));
      } else {
        s = toNewSubject(row);
      }
      resolveNewSubject(qc.policy, s, nowMs, 'row');
      const first = seen.get(s.id);
      if (first !== undefined)
        throw new QuotaClockError('BAD_INPUT', `id "${s.id}" also appears on line ${first}`);
      seen.set(s.id, line);
      subjects.push(s);
    } catch (e) {
      if (!isQuotaClockError(e)) throw e;
      const message = e.message.replace(/^row\./, '');
      // Some errors (unknown plan or feature) do not name their field in the text.
      const where = e.where?.replace(/^row\./, '');
      errors.push({
        line,
        message: where && !message.startsWith(where) ? `${where}: ${message}` : message,
      });
    }
  }
  if (errors.length) throw importError(path, errors);
  if (subjects.length === 0)
    throw new QuotaClockError('IMPORT_INVALID', `${path}: no rows to import`, { where: 'file' });
  const store = await qc.store();
  // Counted before the write: the figures are what a person reads, and an unchanged row is not "updated".
  let added = 0;
  let updated = 0;
  for (const s of subjects) {
    const existing = await store.getSubject(s.id);
    if (!existing) added += 1;
    else if (changes(qc, s, existing, nowMs)) updated += 1;
  }
  // A dry run does the same work in the same transaction and rolls it back.
  const r = await store.upsertSubjects(subjects, nowMs, { dryRun: opts.dryRun === true });
  return {
    dryRun: opts.dryRun === true,
    rows: subjects.length,
    added,
    updated,
    unchanged: subjects.length - added - updated,
    usageImported: r.usageImported,
    notes,
  };
}
