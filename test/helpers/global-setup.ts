/**
 * Runs once before the suites. Components that a suite needs and cannot find
 * are reported by that suite itself (skipped with a reason, or failed under CI=true).
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  process.env.TZ ??= 'UTC';
  // Every temp folder a test makes, and those of the processes it starts
  // (serve, the CLI, Chromium, Python), lands in one folder for the run,
  // removed at the end: a test that fails or times out before its own
  // cleanup then leaves nothing behind on the machine either. The workers
  // and child processes inherit TMPDIR, and os.tmpdir() reads it each call.
  const runDir = mkdtempSync(join(tmpdir(), 'qc-test-run-'));
  // The same mode as /tmp: the cron and systemd tests run commands as a
  // throwaway user, who must reach the folders the tests make for it.
  chmodSync(runDir, 0o1777);
  process.env.TMPDIR = runDir;
  return () => {
    const left = readdirSync(runDir);
    if (left.length > 0) {
      // Named so that a leaking test can be found; removed all the same.
      const prefixes = [...new Set(left.map((name) => name.replace(/[-_][^-_]*$/, '')))];
      console.warn(`test temp folders left by their tests (removed now): ${prefixes.join(', ')}`);
    }
    rmSync(runDir, { recursive: true, force: true });
  };
}
