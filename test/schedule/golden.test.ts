import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TARGETS } from '../../src/schedule/cron-spec.js';
import { scheduleContext } from '../../src/schedule/context.js';
import { generateSchedule } from '../../src/schedule/generate.js';
import { fixedContext, GOLDEN, ROOT } from './helpers.js';

/**
 * Every target's artifact, byte for byte, for the default schedule in UTC and
 * for a zone with daylight saving time. Regenerate after an intended change:
 * UPDATE_GOLDEN=1 npx vitest run test/schedule/golden.test.ts
 */
const VARIANTS = {
  utc: {},
  'europe-berlin': { timeZone: 'Europe/Berlin' },
} as const;

describe('golden artifacts', () => {
  for (const [variant, overrides] of Object.entries(VARIANTS)) {
    for (const target of TARGETS) {
      it(`${target} (${variant})`, () => {
        const artifact = generateSchedule(fixedContext(target, overrides));
        expect(artifact.files.length).toBeGreaterThan(0);
        for (const file of artifact.files) {
          const path = join(GOLDEN, variant, target, file.name);
          if (process.env.UPDATE_GOLDEN === '1') {
            mkdirSync(dirname(path), { recursive: true });
            writeFileSync(path, file.content);
          }
          expect(existsSync(path), `${path} is missing: run with UPDATE_GOLDEN=1`).toBe(true);
          expect(file.content).toBe(readFileSync(path, 'utf8'));
        }
      });
    }
  }

  it('the job never defaults to a dry run (the old cron line ran one forever)', () => {
    for (const target of TARGETS) {
      const text = generateSchedule(fixedContext(target))
        .files.map((f) => f.content)
        .join('\n');
      expect(text, target).not.toMatch(/--dry-run|--execute/);
    }
  });

  it('examples/ are exactly what schedule print generates for the default schedule', () => {
    for (const target of ['aws', 'azure', 'gcp'] as const) {
      const artifact = generateSchedule(
        scheduleContext({ target, systemTimeZone: 'UTC' }, { cron: '1 0 1 * *', timeZone: 'UTC' }),
      );
      for (const file of artifact.files) {
        expect(
          readFileSync(join(ROOT, 'examples', target, file.name), 'utf8'),
          `examples/${target}/${file.name}`,
        ).toBe(file.content);
      }
    }
  });
});

describe('docs/scheduling.md', () => {
  it('shows each artifact exactly as schedule print generates it', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'scheduling.md'), 'utf8');
    const blocks = [...doc.matchAll(/<!-- artifact: (\S+) -->\n\n```\w*\n([\s\S]*?)```/g)];
    expect(blocks.length).toBeGreaterThanOrEqual(12);
    for (const [, path, content] of blocks) {
      expect(content, path).toBe(readFileSync(join(GOLDEN, path!), 'utf8'));
    }
  });
});
