import type { z } from 'zod';
import { QuotaClockError, type ErrorCode } from '../core/errors.js';

/** Fields whose refusal has its own code. */
const FIELD_CODES: Record<string, ErrorCode> = { amount: 'INVALID_AMOUNT' };

/** Parses with a zod schema; the first issue becomes a 400 naming its field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown, where = 'body'): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String);
  const field =
    issue.code === 'unrecognized_keys' ? [...path, issue.keys[0] ?? ''].join('.') : path.join('.');
  const named = field === '' ? where : field;
  const message =
    issue.code === 'unrecognized_keys'
      ? `${named}: unknown field`
      : issue.code === 'invalid_type' && issue.input === undefined
        ? `${named}: required`
        : `${named}: ${issue.message}`;
  return failWith(FIELD_CODES[path[path.length - 1] ?? ''] ?? 'BAD_INPUT', message, named);
}

function failWith(code: ErrorCode, message: string, where: string): never {
  throw new QuotaClockError(code, message, { where });
}
