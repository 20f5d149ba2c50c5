import { ConfigError } from '../core/errors.js';
import { configSchema, type QuotaClockConfig, type QuotaClockConfigInput } from './schema.js';
import { isValidated, markValidated } from './validated.js';

/**
 * Validates a whole config object; every problem is reported with its path,
 * none is fixed silently. A config this returned passes through unchanged.
 */
export function parseConfig(input: unknown, source?: string): QuotaClockConfig {
  if (isValidated(input)) return input as QuotaClockConfig;
  const result = configSchema().safeParse(input ?? {});
  if (result.success) return markValidated(result.data);
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
