/**
 * The part of a stored consume outcome that the caller computes (the period
 * view, the zone and the seconds left), taken from one JSON parameter
 * `{period, timeZone, secondsLeft}` into the json_build_object that builds
 * the outcome, so a replay answers exactly what the first call answered.
 */
export function periodFieldsSql(param: string): string {
  return `'period', ${param}::json -> 'period', 'timeZone', ${param}::json ->> 'timeZone',
             'secondsLeft', (${param}::json ->> 'secondsLeft')::bigint`;
}
