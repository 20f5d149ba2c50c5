import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { QuotaClockError } from '../core/errors.js';
import type { QuotaClock } from '../quotaclock.js';
import type { BackupRecord } from '../store/quota-store.js';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  footerSchema,
  headerSchema,
  recordSchemas,
} from '../core/backup-format.js';

function backupError(message: string, line?: number): QuotaClockError {
  return new QuotaClockError(
    'BACKUP_INVALID',
    line === undefined ? message : `line ${line}: ${message}`,
    {
      where: line === undefined ? 'backup' : `line ${line}`,
    },
  );
}

/**
 * Writes a versioned JSONL backup: header, every record, and a footer with a
 * count and a SHA-256 of the lines before it. Written to a temporary file and
 * renamed, so a crash never leaves a half backup under the final name.
 */
export async function writeBackup(
  qc: QuotaClock,
  out: string | NodeJS.WritableStream,
): Promise<{ records: number; sha256: string }> {
  const store = await qc.store();
  const hash = createHash('sha256');
  const tmp = typeof out === 'string' ? `${out}.partial-${process.pid}` : null;
  // `--out backups/2026-12-06.jsonl` on the first run: the folder is made, once the store has opened.
  if (tmp) mkdirSync(dirname(resolve(tmp)), { recursive: true });
  const stream = tmp ? createWriteStream(tmp) : (out as NodeJS.WritableStream);
  const write = async (line: string) => {
    if (!stream.write(line)) await once(stream, 'drain');
  };
  let records = 0;
  try {
    const header = {
      type: 'header',
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      // The wall clock on purpose: when the file was made, whatever business time says.
      createdAt: new Date().toISOString(),
      engine: store.engine,
      plans: qc.config.plans,
      period: qc.config.period,
    };
    for (const record of [header]) {
      const line = `${JSON.stringify(record)}\n`;
      hash.update(line);
      await write(line);
    }
    for await (const record of store.exportRecords()) {
      const line = `${JSON.stringify(record)}\n`;
      hash.update(line);
      records += 1;
      await write(line);
    }
    const sha256 = hash.digest('hex');
    await write(`${JSON.stringify({ type: 'footer', records, sha256 })}\n`);
    if (tmp) {
      const ws = stream as ReturnType<typeof createWriteStream>;
      ws.end();
      await once(ws, 'finish');
      renameSync(tmp, out as string);
    }
    return { records, sha256 };
  } catch (e) {
    if (tmp) rmSync(tmp, { force: true });
    throw e;
  }
}

/** Reads and checks a whole backup before anything is written. */
export async function readBackup(
  path: string,
): Promise<{ header: Record<string, unknown>; records: BackupRecord[] }> {
  const hash = createHash('sha256');
  const records: BackupRecord[] = [];
  let header: Record<string, unknown> | null = null;
  let footer: { records: number; sha256: string } | null = null;
  let lineNo = 0;
  let input;
  try {
    input = createReadStream(path, { encoding: 'utf8' });
    await once(input, 'open');
  } catch (e) {
    throw new QuotaClockError(
      'BAD_INPUT',
      `cannot read backup file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      { where: 'file' },
    );
  }
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo += 1;
    if (footer) throw backupError('data after the footer', lineNo);
    if (line.trim() === '') throw backupError('empty line', lineNo);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw backupError('not valid JSON', lineNo);
    }
    const type = (value as { type?: unknown })?.type;
    if (lineNo === 1) {
      const h = headerSchema.safeParse(value);
      if (!h.success) throw backupError('not a quotaclock backup header', lineNo);
      if (h.data.version !== BACKUP_VERSION) {
        throw backupError(
          `backup format version ${h.data.version} is not supported (this quotaclock reads version ${BACKUP_VERSION})`,
          lineNo,
        );
      }
      header = h.data;
      hash.update(`${line}\n`);
      continue;
    }
    if (type === 'footer') {
      const f = footerSchema.safeParse(value);
      if (!f.success) throw backupError('malformed footer', lineNo);
      footer = f.data;
      continue;
    }
    const schema = recordSchemas[type as keyof typeof recordSchemas];
    if (!schema) throw backupError(`unknown record type ${JSON.stringify(type)}`, lineNo);
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw backupError(`${String(type)}.${issue.path.join('.')}: ${issue.message}`, lineNo);
    }
    hash.update(`${line}\n`);
    records.push(parsed.data as BackupRecord);
  }
  if (!header) throw backupError('the file is empty');
  if (!footer) throw backupError('no footer: the backup is truncated');
  if (footer.records !== records.length)
    throw backupError(`footer counts ${footer.records} records, found ${records.length}`);
  if (footer.sha256 !== hash.digest('hex'))
    throw backupError('checksum mismatch: the backup is corrupt');
  return { header, records };
}

export async function restoreBackup(qc: QuotaClock, path: string): Promise<{ records: number }> {
  const { records } = await readBackup(path);
  const store = await qc.store();
  await store.migrate();
  return store.importRecords(records);
}
