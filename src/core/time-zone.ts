import { Temporal } from 'temporal-polyfill';
import { InvalidTimeZoneError } from './errors.js';

const valid = new Map<string, string>();

/**
 * Returns the canonical IANA id for a zone, or throws a coded error naming
 * the field. Offsets such as "+02:00" are refused: a fixed offset has no DST
 * rules, so a subject that moves would silently get the wrong boundaries.
 */
export function canonicalTimeZone(zone: string, where = 'timeZone'): string {
  const hit = valid.get(zone);
  if (hit) return hit;
  if (typeof zone !== 'string' || zone.trim() === '' || /^[+-]/.test(zone)) {
    throw new InvalidTimeZoneError(String(zone), where);
  }
  let id: string;
  try {
    id = Temporal.Now.zonedDateTimeISO(zone).timeZoneId;
  } catch {
    throw new InvalidTimeZoneError(zone, where);
  }
  valid.set(zone, id);
  return id;
}
