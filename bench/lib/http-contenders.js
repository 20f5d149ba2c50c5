// The floors of bench:http, each run as its own process like `quotaclock serve`:
//   c0 — a fastify hello-world JSON route (the ceiling);
//   c1 — a hand-written fastify route doing the durable work of one HTTP consume:
//        parse the same JSON body, check the Bearer key's sha256 against the
//        api_keys table (constant-time), then the guarded counter upsert and
//        the event row in one transaction, on the same store.
// Usage: node bench/lib/http-contenders.js c0
//        node bench/lib/http-contenders.js c1 <sqlite path | postgres url>
// Prints {"url": …} on stderr once listening; SIGTERM closes it.
import { Buffer } from 'node:buffer';
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';

const [mode, store] = process.argv.slice(2);
const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

function monthOf(nowMs) {
  const d = new Date(nowMs);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return {
    start,
    end,
    key: `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`,
  };
}

const sha = (s) => createHash('sha256').update(s, 'utf8').digest();

function bearer(request) {
  const h = request.headers.authorization;
  return typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : null;
}

function validBody(b) {
  return (
    b &&
    typeof b.subject === 'string' &&
    typeof b.feature === 'string' &&
    (b.amount === undefined || (Number.isSafeInteger(b.amount) && b.amount >= 1))
  );
}

if (mode === 'c0') {
  app.post('/v1/consume', async () => ({ hello: 'world' }));
} else if (mode === 'c1' && store.startsWith('postgres')) {
  const pg = (await import('pg')).default;
  const url = new URL(store);
  const schema = url.searchParams.get('schema');
  url.searchParams.delete('schema');
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  const s = `"${schema}"`;
  const rids = new Map();
  const consume = `WITH up AS (
      INSERT INTO ${s}.counters AS c (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (subject_rid, period_start_ms, feature) DO UPDATE SET used = c.used + excluded.used
      WHERE c.used + excluded.used <= $7 RETURNING c.used)
    INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at)
    SELECT $1, 'consume', $3, $2, $4, $8, $6, $6, up.used, $7 FROM up RETURNING used_after`;
  app.post('/v1/consume', async (request, reply) => {
    const presented = bearer(request);
    if (!presented) return reply.code(401).send({ code: 'UNAUTHENTICATED' });
    const hash = sha(presented);
    const k = await pool.query({
      name: 'key',
      text: `SELECT hash, revoked_ms FROM ${s}.api_keys WHERE hash = $1`,
      values: [hash.toString('hex')],
    });
    const row = k.rows[0];
    if (!row || row.revoked_ms !== null || !timingSafeEqual(Buffer.from(row.hash, 'hex'), hash))
      return reply.code(401).send({ code: 'UNAUTHENTICATED' });
    const b = request.body;
    if (!validBody(b)) return reply.code(400).send({ code: 'BAD_INPUT' });
    let rid = rids.get(b.subject);
    if (rid === undefined) {
      const r = await pool.query(`SELECT rid FROM ${s}.subjects WHERE id = $1`, [b.subject]);
      rid = r.rows[0]?.rid;
      if (rid === undefined) return reply.code(404).send({ code: 'SUBJECT_NOT_FOUND' });
      rids.set(b.subject, rid);
    }
    const now = Date.now();
    const p = monthOf(now);
    const amount = b.amount ?? 1;
    const limit = 1_000_000_000_000;
    const r = await pool.query({
      name: 'consume',
      text: consume,
      values: [rid, p.start, b.feature, p.end, p.key, amount, limit, now],
    });
    const used = r.rows[0]?.used_after;
    return {
      granted: used !== undefined,
      used: Number(used ?? 0),
      limit,
      remaining: limit - Number(used ?? 0),
      period: p,
    };
  });
  app.addHook('onClose', () => pool.end());
} else if (mode === 'c1') {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(store);
  db.pragma('busy_timeout = 30000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // As the store opens it (src/store/sqlite/connection.ts): each counter and event insert
  // also checks its subject exists. Until 2026-12-06 run 2, C1 left this out.
  db.pragma('foreign_keys = ON');
  const keyByHash = db.prepare('SELECT hash, revoked_ms FROM api_keys WHERE hash = ?');
  const subject = db.prepare('SELECT rid FROM subjects WHERE id = ?');
  const upsert = db.prepare(
    `INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
     SELECT @rid, @start, @feature, @end, @key, @amount WHERE @amount <= @limit
     ON CONFLICT (subject_rid, period_start_ms, feature)
     DO UPDATE SET used = counters.used + excluded.used WHERE counters.used + excluded.used <= @limit
     RETURNING used`,
  );
  const event = db.prepare(
    `INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at)
     VALUES (@rid, 'consume', @feature, @start, @end, @at, @amount, @amount, @used, @limit)`,
  );
  const tx = db.transaction((p) => {
    const row = upsert.get(p);
    if (row) event.run({ ...p, used: row.used });
    return row?.used;
  });
  app.post('/v1/consume', async (request, reply) => {
    const presented = bearer(request);
    if (!presented) return reply.code(401).send({ code: 'UNAUTHENTICATED' });
    const hash = sha(presented);
    const row = keyByHash.get(hash.toString('hex'));
    if (!row || row.revoked_ms !== null || !timingSafeEqual(Buffer.from(row.hash, 'hex'), hash))
      return reply.code(401).send({ code: 'UNAUTHENTICATED' });
    const b = request.body;
    if (!validBody(b)) return reply.code(400).send({ code: 'BAD_INPUT' });
    const s = subject.get(b.subject);
    if (!s) return reply.code(404).send({ code: 'SUBJECT_NOT_FOUND' });
    const now = Date.now();
    const p = monthOf(now);
    const limit = 1_000_000_000_000;
    const amount = b.amount ?? 1;
    const used = tx.immediate({
      rid: s.rid,
      start: p.start,
      end: p.end,
      key: p.key,
      feature: b.feature,
      amount,
      limit,
      at: now,
    });
    return {
      granted: used !== undefined,
      used: used ?? 0,
      limit,
      remaining: limit - (used ?? 0),
      period: p,
    };
  });
  app.addHook('onClose', () => db.close());
} else {
  console.error('usage: http-contenders.js c0 | c1 <sqlite path | postgres url>');
  process.exit(2);
}

const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.error(JSON.stringify({ url }));
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
