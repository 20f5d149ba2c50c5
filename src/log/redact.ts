/**
 * Secrets must never reach logs, notifications, JSON output or error text.
 * Known secret values are registered once (from env or secret files) and
 * scrubbed from any string that leaves the process; URL credentials are
 * scrubbed by shape.
 */
const secrets = new Set<string>();

export const REDACTED = '[redacted]';

export function registerSecret(value: string | undefined | null): void {
  // Very short values would redact ordinary words; they are not credible secrets.
  if (value && value.length >= 6) secrets.add(value);
}

export function redactUrlCredentials(text: string): string {
  return text.replace(
    /([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+)(:[^@\s/]*)?@/gi,
    (_m, scheme: string, user: string, pass?: string) =>
      pass ? `${scheme}${user}:${REDACTED}@` : `${scheme}${user}@`,
  );
}

export function redact(text: string): string {
  // Every log call's message passes here: skip the URL pattern when there can be no URL.
  let out = text.includes('://') ? redactUrlCredentials(text) : text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Deep copy with every string scrubbed; used for JSON output and notification payloads. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

/** Env variables that hold secrets by convention; their values are registered at start. */
export const SECRET_ENV_NAMES = [
  'SMTP_PASSWORD',
  'SMTP_PASS',
  'SMTP_URL',
  'SLACK_WEBHOOK_URL',
  'QUOTACLOCK_WEBHOOK_URL',
  'QUOTACLOCK_WEBHOOK_SECRET',
  'QUOTACLOCK_HEARTBEAT_URL',
  'PGPASSWORD',
];

export function registerSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECRET_ENV_NAMES) registerSecret(env[name]);
  // Passwords embedded in a store URL.
  for (const name of ['QUOTACLOCK_DB', 'DATABASE_URL']) {
    const m = env[name]?.match(/:\/\/[^:/@]+:([^@]+)@/);
    if (m) registerSecret(decodeURIComponent(m[1]!));
  }
}
