import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';
import type { Cron as CronClass } from 'croner';
import { DEFAULT_PLANS, DEFAULT_PLAN_NAME } from '../core/plans.js';
import { canonicalTimeZone } from '../core/time-zone.js';
import { notifySchemasWith } from './notify-schema.js';

/** The whole config schema, built with the zod module given (see configSchema below). */
export function configSchemaWith(z: typeof Zod) {
  const { notifySchema } = notifySchemasWith(z);
  const zone = z.string().superRefine((value, ctx) => {
    try {
      canonicalTimeZone(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not an IANA time zone` });
    }
  });

  const LIMIT_MESSAGE = 'expected integer ≥ 0 or null';
  // The message is set on every check: a union reports the issues of the branch
  // that matched the type, so -1 would otherwise read "Too small: expected number to be >=0".
  const limit = z.union(
    [
      z
        .number({ error: LIMIT_MESSAGE })
        .int({ error: LIMIT_MESSAGE })
        .min(0, { error: LIMIT_MESSAGE }),
      z.null(),
    ],
    { error: LIMIT_MESSAGE },
  );

  const planName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a lower-case plan name');
  const featureName = z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a lower-case feature name');

  const plan = z.strictObject({ limits: z.record(featureName, limit) });

  const cronExpression = z.string().superRefine((value, ctx) => {
    try {
      // Loaded here, not at the top: a cold `status` without a config file never needs croner.
      const { Cron } = createRequire(import.meta.url)('croner') as { Cron: typeof CronClass };
      new Cron(value, { paused: true });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `invalid cron expression: ${(e as Error).message}` });
    }
  });

  const configSchema = z
    .strictObject({
      store: z.string().min(1).default('./quotaclock.db'),
      period: z
        .strictObject({
          every: z.enum(['day', 'week', 'month', 'year']).default('month'),
          anchor: z.enum(['calendar', 'signup']).default('calendar'),
          timeZone: zone.default('UTC'),
        })
        .default({ every: 'month', anchor: 'calendar', timeZone: 'UTC' }),
      plans: z
        .record(planName, plan)
        .default(DEFAULT_PLANS as Record<string, Zod.infer<typeof plan>>),
      defaultPlan: planName.default(DEFAULT_PLAN_NAME),
      autoCreateSubjects: z.boolean().default(true),
      retention: z
        .strictObject({ periods: z.number().int().min(1).max(1200).default(24) })
        .default({ periods: 24 }),
      schedule: z
        .strictObject({ cron: cronExpression.default('1 0 1 * *'), timeZone: zone.default('UTC') })
        .default({ cron: '1 0 1 * *', timeZone: 'UTC' }),
      log: z
        .strictObject({
          file: z.string().min(1).nullable().default(null),
          level: z
            .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
            .default('info'),
          maxSize: z
            .string()
            .regex(/^\d+[kmg]?$/, 'expected a size such as 10m')
            .default('10m'),
          frequency: z.enum(['daily', 'hourly', 'none']).default('daily'),
          keep: z.number().int().min(1).max(1000).default(10),
        })
        .default({ file: null, level: 'info', maxSize: '10m', frequency: 'daily', keep: 10 }),
      reset: z
        .strictObject({
          batchSize: z.number().int().min(1).max(100_000).default(5000),
          leaseSeconds: z.number().int().min(5).max(3600).default(60),
          waitForLeaseSeconds: z.number().int().min(0).max(3600).default(75),
        })
        .default({ batchSize: 5000, leaseSeconds: 60, waitForLeaseSeconds: 75 }),
      /** Notification targets, events, thresholds and heartbeat pings (docs/monitoring.md). */
      notify: notifySchema.prefault({}),
    })
    .superRefine((cfg, ctx) => {
      if (!(cfg.defaultPlan in cfg.plans)) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultPlan'],
          message: `"${cfg.defaultPlan}" is not one of the plans (${Object.keys(cfg.plans).join(', ')})`,
        });
      }
      if (Object.keys(cfg.plans).length === 0) {
        ctx.addIssue({ code: 'custom', path: ['plans'], message: 'at least one plan is required' });
      }
    });
  return configSchema;
}

let built: ReturnType<typeof configSchemaWith> | undefined;

/**
 * Built on first use: loading zod and building the schema is most of a cold
 * `quotaclock status`, which needs neither when no config file is present
 * (config/defaults.ts). zod is required through its CommonJS entry so that
 * validation stays synchronous.
 */
export function configSchema(): ReturnType<typeof configSchemaWith> {
  built ??= configSchemaWith((createRequire(import.meta.url)('zod') as { z: typeof Zod }).z);
  return built;
}

export type QuotaClockConfig = Zod.output<ReturnType<typeof configSchemaWith>>;
export type QuotaClockConfigInput = Zod.input<ReturnType<typeof configSchemaWith>>;
