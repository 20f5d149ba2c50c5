import { BadInputError, InvalidAmountError } from './errors.js';
import type { Metadata } from './types.js';

const SUBJECT_ID = /^[\p{L}\p{N}_.:@+-]{1,200}$/u;

export function assertSubjectId(id: unknown, where = 'subject'): asserts id is string {
  if (typeof id !== 'string' || !SUBJECT_ID.test(id)) {
    throw new BadInputError(
      `${where}: expected 1-200 letters, digits or _.:@+- characters, got ${JSON.stringify(id)}`,
      where,
    );
  }
}

export function assertAmount(amount: unknown, where = 'amount'): asserts amount is number {
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1) {
    throw new InvalidAmountError(amount, where);
  }
}

/** Refunds are recorded under `refund:<key>`; a caller's key must not collide with that. */
export const REFUND_KEY_PREFIX = 'refund:';

/** Usage brought in by `users import` is recorded under `quotaclock-import:<period>:<feature>`. */
export const IMPORT_KEY_PREFIX = 'quotaclock-import:';
export const importKey = (periodKey: string, feature: string) =>
  `${IMPORT_KEY_PREFIX}${periodKey}:${feature}`;

export function assertIdempotencyKey(
  key: unknown,
  where = 'key',
): asserts key is string | undefined {
  if (key === undefined) return;
  if (typeof key !== 'string' || key.length < 1 || key.length > 200) {
    throw new BadInputError(`${where}: expected a string of 1-200 characters`, where);
  }
  if (key.startsWith(REFUND_KEY_PREFIX)) {
    throw new BadInputError(
      `${where}: keys starting with "${REFUND_KEY_PREFIX}" are reserved for refunds`,
      where,
    );
  }
  if (key.startsWith(IMPORT_KEY_PREFIX)) {
    throw new BadInputError(
      `${where}: keys starting with "${IMPORT_KEY_PREFIX}" are reserved for imported usage`,
      where,
    );
  }
}

const MAX_META_BYTES = 16 * 1024;

/** Metadata is any JSON object; it is stored with the event, so keep it bounded. */
export function normaliseMeta(meta: unknown, where = 'meta'): Metadata | undefined {
  if (meta === undefined || meta === null) return undefined;
  if (typeof meta !== 'object' || Array.isArray(meta)) {
    throw new BadInputError(`${where}: expected a JSON object`, where);
  }
  let text: string;
  try {
    text = JSON.stringify(meta);
  } catch {
    throw new BadInputError(`${where}: not serialisable as JSON`, where);
  }
  if (new TextEncoder().encode(text).length > MAX_META_BYTES) {
    throw new BadInputError(`${where}: larger than ${MAX_META_BYTES} bytes`, where);
  }
  return JSON.parse(text) as Metadata;
}

export function assertEmail(
  email: unknown,
  where = 'email',
): asserts email is string | null | undefined {
  if (email === undefined || email === null || email === '') return;
  if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320) {
    throw new BadInputError(`${where}: not an email address: ${JSON.stringify(email)}`, where);
  }
}
