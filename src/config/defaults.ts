import { DEFAULT_PLANS, DEFAULT_PLAN_NAME } from '../core/plans.js';
import { DEFAULT_NOTIFY_EVENTS } from './notify-schema.js';
import type { QuotaClockConfig } from './schema.js';
import { markValidated } from './validated.js';

/**
 * The configuration with no file: every default, plus the store and log file
 * from flags or the environment. Written out by hand so that a cold
 * `quotaclock status` never loads zod; test/unit/config-defaults.test.ts
 * holds it equal to what the schema produces.
 */
export function builtInConfig(
  sources: { store?: string; logFile?: string } = {},
): QuotaClockConfig {
  const plans = Object.fromEntries(
    Object.entries(DEFAULT_PLANS).map(([name, p]) => [name, { limits: { ...p.limits } }]),
  );
  return markValidated({
    store: sources.store ?? './quotaclock.db',
    period: { every: 'month', anchor: 'calendar', timeZone: 'UTC' },
    plans,
    defaultPlan: DEFAULT_PLAN_NAME,
    autoCreateSubjects: true,
    retention: { periods: 24 },
    schedule: { cron: '1 0 1 * *', timeZone: 'UTC' },
    log: {
      file: sources.logFile ?? null,
      level: 'info',
      maxSize: '10m',
      frequency: 'daily',
      keep: 10,
    },
    reset: { batchSize: 5000, leaseSeconds: 60, waitForLeaseSeconds: 75 },
    notify: {
      targets: [],
      events: [...DEFAULT_NOTIFY_EVENTS],
      thresholds: [80, 100],
      retry: { attempts: 4, initialDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 },
      timeoutMs: 10_000,
      heartbeat: null,
      logLocation: null,
    },
  });
}
