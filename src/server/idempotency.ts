import { createHash } from 'node:crypto';
import { BadInputError } from '../core/errors.js';

/**
 * The Idempotency-Key header's value. The IETF draft sends it as a
 * structured-field string ("abc"); plain abc is accepted too and means the
 * same key.
 */
export function headerKey(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw))
    throw new BadInputError('Idempotency-Key: sent more than once', 'Idempotency-Key');
  const value = raw.trim();
  if (value.startsWith('"')) {
    const inner = value.slice(1, -1);
    // sf-string: printable ASCII, with \" and \\ the only escapes.
    if (
      value.length < 3 ||
      !value.endsWith('"') ||
      !/^(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*$/.test(inner)
    )
      throw new BadInputError(
        'Idempotency-Key: not a valid structured-field string',
        'Idempotency-Key',
      );
    return inner.replace(/\\(["\\])/g, '$1');
  }
  if (value === '') throw new BadInputError('Idempotency-Key: empty', 'Idempotency-Key');
  return value;
}

/** One key from the header and the body: both may be given only if they agree. */
export function resolveKey(
  header: string | undefined,
  body: string | undefined,
): string | undefined {
  if (header !== undefined && body !== undefined && header !== body) {
    throw new BadInputError(
      'Idempotency-Key: the header and the body\'s "key" differ; send one, or the same value in both',
      'Idempotency-Key',
    );
  }
  return header ?? body;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a request asked for, independent of key order and of where the key
 * was sent: a retry with the same key must ask for the same thing, or it is
 * refused (IDEMPOTENCY_KEY_REUSED).
 */
export function fingerprint(op: string, request: Record<string, unknown>): string {
  const { key: _key, ...rest } = request;
  return createHash('sha256')
    .update(`${op}\n${canonical(rest)}`)
    .digest('base64url');
}
