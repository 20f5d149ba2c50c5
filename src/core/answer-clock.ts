import type { Period } from './period.js';

/**
 * What every decision answer says about time (API.md: "the period's start
 * and end, the zone, and the seconds left"). `secondsLeft` is the `t` of the
 * RateLimit header: whole seconds until the period ends, rounded up, never
 * below zero (a refund answers about a period that may have ended).
 */
export interface AnswerClock {
  /** The IANA zone the period was computed in: the subject's own, or the period rule's. */
  readonly timeZone: string;
  readonly secondsLeft: number;
}

export function secondsLeft(endMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((endMs - nowMs) / 1000));
}

export function answerClock(
  subjectZone: string | null,
  ruleZone: string,
  period: Pick<Period, 'endMs'>,
  nowMs: number,
): AnswerClock {
  return { timeZone: subjectZone ?? ruleZone, secondsLeft: secondsLeft(period.endMs, nowMs) };
}
