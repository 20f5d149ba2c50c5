import type { z } from 'zod';
import { ConsumeRequest } from './schemas.js';
import { parse } from './validate.js';

export type ConsumeBody = z.output<typeof ConsumeRequest>;

/**
 * The body of POST /v1/consume, as parse(ConsumeRequest, body) gives it. The
 * common body (subject, feature and perhaps amount, all valid) is checked here
 * by hand, for what zod's walk through the schema costs on every request; the
 * checks are the schema's own (lengths, a safe integer ≥ 1). Anything else, a
 * key, meta, an unknown field or a bad value, goes to zod, which accepts it or
 * words the refusal as for every other route. A test holds the two to the same
 * answers.
 */
export function parseConsumeBody(body: unknown): ConsumeBody {
  return commonBody(body) ?? parse(ConsumeRequest, body);
}

function commonBody(body: unknown): ConsumeBody | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  for (const k in b) if (k !== 'subject' && k !== 'feature' && k !== 'amount') return undefined;
  const { subject, feature, amount } = b;
  if (typeof subject !== 'string' || subject.length < 1 || subject.length > 200) return undefined;
  if (typeof feature !== 'string' || feature.length < 1 || feature.length > 100) return undefined;
  if (amount === undefined) return { subject, feature, amount: 1 };
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1) return undefined;
  return { subject, feature, amount };
}
