/**
 * Runs once before the suites. Components that a suite needs and cannot find
 * are reported by that suite itself (skipped with a reason, or failed under CI=true).
 */
export default function setup(): void {
  process.env.TZ ??= 'UTC';
}
