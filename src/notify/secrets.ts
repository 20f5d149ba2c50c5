import { readFileSync } from 'node:fs';
import type { SecretRef } from '../config/notify-schema.js';
import { QuotaClockError } from '../core/errors.js';
import { registerSecret } from '../log/redact.js';

/** A secret that could not be loaded; the message names the config path and the source, never a value. */
export class SecretUnavailableError extends QuotaClockError {
  constructor(message: string, where: string) {
    super('NOTIFY_CONFIG', `${where}: ${message}`, { where });
  }
}

/**
 * Reads a secret from the environment or a file and registers it with the
 * redactor before anything can print it. URLs also register their path and
 * query, so a webhook token is scrubbed even when printed without the host.
 */
export function loadSecret(
  ref: SecretRef,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  let value: string | undefined;
  if (ref.env !== undefined) {
    value = env[ref.env];
    if (value === undefined || value.trim() === '') {
      throw new SecretUnavailableError(`environment variable ${ref.env} is not set`, where);
    }
  } else {
    try {
      value = readFileSync(ref.file!, 'utf8');
    } catch (e) {
      throw new SecretUnavailableError(
        `cannot read secret file ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        where,
      );
    }
    if (value.trim() === '')
      throw new SecretUnavailableError(`secret file ${ref.file} is empty`, where);
  }
  value = value.trim();
  registerSecretValue(value);
  return value;
}

/** Registers a secret and, for URLs, the parts of it that identify the credential. */
export function registerSecretValue(value: string): void {
  registerSecret(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return;
  }
  if (url.password) registerSecret(decodeURIComponent(url.password));
  if (url.password) registerSecret(url.password);
  const tail = `${url.pathname}${url.search}`;
  if (tail.length > 1) registerSecret(tail);
  if (url.search) registerSecret(url.pathname);
  // Tokens are path segments (Slack: /services/T…/B…/secret); scrub each long one.
  for (const segment of url.pathname.split('/')) if (segment.length >= 16) registerSecret(segment);
  for (const v of url.searchParams.values()) if (v.length >= 8) registerSecret(v);
}

/** "hooks.slack.com": enough to tell targets apart in logs, nothing secret. */
export function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid URL';
  }
}
