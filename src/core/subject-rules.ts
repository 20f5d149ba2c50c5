import { BadInputError } from './errors.js';
import { assertLimitValue, type Limits } from './plans.js';
import { parseInstant } from './period.js';
import type { QuotaPolicy } from './policy.js';
import { canonicalTimeZone } from './time-zone.js';
import type { NewSubject } from './types.js';
import type { SubjectPatch } from './admin-types.js';
import { assertEmail, assertSubjectId } from './validate.js';

/** A subject with every default applied and every field checked, ready to persist. */
export interface ResolvedSubject {
  readonly id: string;
  readonly plan: string;
  readonly overrides: Limits;
  readonly timeZone: string | null;
  readonly anchorMs: number;
  readonly email: string | null;
  readonly name: string | null;
  readonly createdMs: number;
  /** The first period quotaclock tracks for this subject: the one containing its creation. */
  readonly closedThroughMs: number;
  readonly openEndMs: number;
  readonly openKey: string;
}

export function checkOverrides(
  policy: QuotaPolicy,
  overrides: unknown,
  where = 'overrides',
): Limits {
  if (overrides === undefined || overrides === null) return {};
  if (typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new BadInputError(`${where}: expected an object of feature → limit`, where);
  }
  const out: Record<string, number | null> = {};
  for (const [feature, value] of Object.entries(overrides as Record<string, unknown>)) {
    policy.catalog.assertFeature(feature, `${where}.${feature}`);
    assertLimitValue(value, `${where}.${feature}`);
    out[feature] = value;
  }
  return out;
}

export function resolveNewSubject(
  policy: QuotaPolicy,
  input: NewSubject,
  nowMs: number,
  where = 'subject',
): ResolvedSubject {
  assertSubjectId(input.id, `${where}.id`);
  const plan = input.plan ?? policy.catalog.defaultPlan;
  policy.catalog.assertPlan(plan, `${where}.plan`);
  const timeZone =
    input.timeZone === undefined || input.timeZone === null || input.timeZone === ''
      ? null
      : canonicalTimeZone(input.timeZone, `${where}.timeZone`);
  assertEmail(input.email, `${where}.email`);
  if (
    input.name !== undefined &&
    input.name !== null &&
    (typeof input.name !== 'string' || input.name.length > 200)
  ) {
    throw new BadInputError(
      `${where}.name: expected a string of at most 200 characters`,
      `${where}.name`,
    );
  }
  const anchorMs =
    input.anchor === undefined ? nowMs : parseInstant(input.anchor, `${where}.anchor`);
  const overrides = checkOverrides(policy, input.overrides, `${where}.overrides`);
  const period = policy.periods.at({ timeZone, anchorMs }, Math.max(nowMs, anchorMs));
  return {
    id: input.id,
    plan,
    overrides,
    timeZone,
    anchorMs,
    email: input.email || null,
    name: input.name || null,
    createdMs: nowMs,
    closedThroughMs: period.startMs,
    openEndMs: period.endMs,
    openKey: period.key,
  };
}

/** The overrides with one feature set, or removed (undefined) so the plan's limit applies again. */
export function withOverride(
  current: Limits,
  feature: string,
  limit: number | null | undefined,
): Limits {
  const o: Record<string, number | null> = { ...current };
  if (limit === undefined) delete o[feature];
  else o[feature] = limit;
  return o;
}

/**
 * A subject's email and display name after a patch; fields left out are
 * kept. A different time zone is refused: it would split the current period.
 */
export function resolveSubjectPatch(
  policy: QuotaPolicy,
  current: {
    readonly timeZone: string | null;
    readonly email: string | null;
    readonly name: string | null;
  },
  patch: SubjectPatch,
): { email: string | null; name: string | null } {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw new BadInputError('patch: expected an object', 'patch');
  }
  const known = ['timeZone', 'email', 'displayName'];
  for (const k of Object.keys(patch)) {
    if (!known.includes(k))
      throw new BadInputError(
        `${k}: not a field that can be changed (known: ${known.join(', ')})`,
        k,
      );
  }
  if (patch.timeZone !== undefined) {
    const zone =
      patch.timeZone === null || patch.timeZone === ''
        ? null
        : canonicalTimeZone(patch.timeZone, 'timeZone');
    const effective = (z: string | null) =>
      canonicalTimeZone(z ?? policy.rule.timeZone, 'timeZone');
    if (effective(zone) !== effective(current.timeZone)) {
      throw new BadInputError(
        `timeZone: the subject already has time zone ${current.timeZone ?? policy.rule.timeZone}; changing it would split its current period`,
        'timeZone',
      );
    }
  }
  if (patch.email !== undefined) assertEmail(patch.email, 'email');
  if (
    patch.displayName !== undefined &&
    patch.displayName !== null &&
    (typeof patch.displayName !== 'string' || patch.displayName.length > 200)
  ) {
    throw new BadInputError(
      'displayName: expected a string of at most 200 characters',
      'displayName',
    );
  }
  return {
    email: patch.email === undefined ? current.email : patch.email || null,
    name: patch.displayName === undefined ? current.name : patch.displayName || null,
  };
}
