import { ConfigError } from '../core/errors.js';
import { configSchema, type QuotaClockConfig, type QuotaClockConfigInput } from './schema.js';

/** Validates a whole config object; every problem is reported with its path, none is fixed silently. */
export function parseConfig(input: unknown, source?: string): QuotaClockConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message;
    return `${path}: ${message}`;
  });
  throw new ConfigError(issues, source);
}

export function defaultConfig(overrides: QuotaClockConfigInput = {}): QuotaClockConfig {
  return parseConfig(overrides);
}
