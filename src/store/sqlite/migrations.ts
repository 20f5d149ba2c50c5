/**
 * Numbered, append-only. A released migration is never edited; a change is a
 * new number. Instants are epoch milliseconds so that comparisons stay cheap.
 */
export const SQLITE_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE subjects (
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  plan TEXT NOT NULL,
  overrides TEXT NOT NULL DEFAULT '{}',
  suspended INTEGER NOT NULL DEFAULT 0,
  suspended_reason TEXT,
  time_zone TEXT,
  anchor_ms INTEGER NOT NULL,
  email TEXT,
  name TEXT,
  created_ms INTEGER NOT NULL,
  closed_through_ms INTEGER NOT NULL,
  open_end_ms INTEGER NOT NULL,
  open_key TEXT NOT NULL
);
CREATE INDEX subjects_open_key ON subjects (open_key);
CREATE INDEX subjects_open_end ON subjects (open_end_ms);
CREATE INDEX subjects_plan ON subjects (plan);

CREATE TABLE counters (
  subject_rid INTEGER NOT NULL,
  period_start_ms INTEGER NOT NULL,
  feature TEXT NOT NULL,
  period_end_ms INTEGER NOT NULL,
  period_key TEXT NOT NULL,
  used INTEGER NOT NULL CHECK (used >= 0),
  PRIMARY KEY (subject_rid, period_start_ms, feature)
) WITHOUT ROWID;
CREATE INDEX counters_end ON counters (period_end_ms);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  subject_rid INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('consume', 'refund', 'reset')),
  feature TEXT NOT NULL,
  period_start_ms INTEGER NOT NULL,
  period_end_ms INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  delta INTEGER NOT NULL,
  used_after INTEGER NOT NULL,
  limit_at INTEGER,
  idem_key TEXT,
  outcome TEXT,
  meta TEXT
);
CREATE UNIQUE INDEX events_idem ON events (subject_rid, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX events_counter ON events (subject_rid, period_start_ms, feature);
CREATE INDEX events_end ON events (period_end_ms);

CREATE TABLE closed_periods (
  subject_rid INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  period_key TEXT NOT NULL,
  plan TEXT NOT NULL,
  limits TEXT NOT NULL,
  closed_ms INTEGER NOT NULL,
  PRIMARY KEY (subject_rid, start_ms)
) WITHOUT ROWID;
CREATE INDEX closed_periods_end ON closed_periods (end_ms);

CREATE TABLE runs (
  key TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('running', 'closed', 'partial', 'failed')),
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  attempts INTEGER NOT NULL DEFAULT 1,
  holder TEXT,
  period_start_ms INTEGER,
  period_end_ms INTEGER,
  checkpoint TEXT NOT NULL,
  error TEXT
);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  action TEXT NOT NULL,
  subject TEXT,
  detail TEXT
);
CREATE INDEX audit_subject ON audit (subject);
`,
  },
  {
    version: 2,
    name: 'threshold notices and job metrics',
    sql: `
-- At most one quota.threshold notice per subject, feature, period and threshold.
-- Keyed by subject id (not rid) so the dedup survives a restore into another store.
CREATE TABLE threshold_notices (
  subject TEXT NOT NULL,
  feature TEXT NOT NULL,
  period_start_ms INTEGER NOT NULL,
  threshold INTEGER NOT NULL,
  period_end_ms INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (subject, feature, period_start_ms, threshold)
) WITHOUT ROWID;
CREATE INDEX threshold_notices_end ON threshold_notices (period_end_ms);

-- Gauges and counters of the reset job and the notifiers, for quotaclock metrics.
-- labels is canonical JSON (sorted keys), '' for none.
CREATE TABLE job_metrics (
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  value REAL NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (name, labels)
) WITHOUT ROWID;
`,
  },
  {
    version: 3,
    name: 'the service: API keys, sessions, audit actors, subject search, event pages, request fingerprints',
    sql: `
-- Keys are stored as their sha256 (hex) and a short prefix for display; never the key.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL,
  revoked_ms INTEGER
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);

-- Dashboard sessions: the token's sha256, never the token.
CREATE TABLE sessions (
  hash TEXT PRIMARY KEY,
  key_id TEXT NOT NULL REFERENCES api_keys (id),
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expires ON sessions (expires_ms);

-- Who made each change, and the value before and after it.
ALTER TABLE audit ADD COLUMN actor TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE audit ADD COLUMN before_json TEXT;
ALTER TABLE audit ADD COLUMN after_json TEXT;
ALTER TABLE audit ADD COLUMN reason TEXT;
UPDATE audit SET action = 'subject.create' WHERE action = 'subject.add';
UPDATE audit SET action = 'plan.set' WHERE action = 'subject.set_plan';
UPDATE audit SET action = 'override.set' WHERE action = 'subject.set_override';
UPDATE audit SET after_json = detail WHERE after_json IS NULL;
DROP INDEX audit_subject;
CREATE INDEX audit_subject ON audit (subject, id);
CREATE INDEX audit_actor ON audit (actor, id);

-- The admin search: a prefix of the id (the unique index) or of the email.
CREATE INDEX subjects_email ON subjects (email);

-- A subject's ledger, newest first.
CREATE INDEX events_subject ON events (subject_rid, id);

-- What the request that first used an idempotency key was (the service hashes its body).
ALTER TABLE events ADD COLUMN fingerprint TEXT;
`,
  },
];

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
