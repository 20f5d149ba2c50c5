import type { z } from 'zod';
import { amount as amountSchema, ConsumeRequest, featureName, subjectId } from './schemas.js';
import { parse } from './validate.js';

export type ConsumeBody = z.output<typeof ConsumeRequest>;

/**
 * The body of POST /v1/consume, as parse(ConsumeRequest, body) gives it. The
 * common body (subject, feature and perhaps amount, all valid) is checked here
 * by hand, for what zod's walk through the schema costs on every request; the
 * bounds are read off the schema's own parts, so they have one home. Anything else, a
 * key, meta, an unknown field or a bad value, goes to zod, which accepts it or
 * words the refusal as for every other route. A test holds the two to the same
 * answers.
 */
export function parseConsumeBody(body: unknown): ConsumeBody {
  return commonBody(body) ?? parse(ConsumeRequest, body);
}

const within = (s: z.ZodString, v: unknown): v is string =>
  typeof v === 'string' && v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity);

function commonBody(body: unknown): ConsumeBody | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  for (const k in b) if (k !== 'subject' && k !== 'feature' && k !== 'amount') return undefined;
  const { subject, feature, amount } = b;
  if (!within(subjectId, subject) || !within(featureName, feature)) return undefined;
  if (amount === undefined) return { subject, feature, amount: 1 };
  if (
    typeof amount !== 'number' ||
    !Number.isSafeInteger(amount) ||
    amount < (amountSchema.minValue ?? -Infinity) ||
    amount > (amountSchema.maxValue ?? Infinity)
  )
    return undefined;
  return { subject, feature, amount };
}
