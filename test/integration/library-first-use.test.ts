import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQuotaClock } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'qc-lib-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the library on the embedded default, as the README shows it', () => {
  it('consumes on first use with no init: the SQLite file and its schema are made on open', async () => {
    const path = join(dir, 'app', 'quotaclock.db');
    const quotas = createQuotaClock({ config: { store: path } });
    try {
      const r = await quotas.consume('alice', 'stock_reports', 1, { key: 'r-1' });
      expect(r).toMatchObject({ granted: true, used: 1, limit: 10 });
      expect((await quotas.status('alice')).features.stock_reports!.used).toBe(1);
    } finally {
      await quotas.close();
    }
    expect(existsSync(path)).toBe(true);
    // A second process (or restart) finds the same data, and init stays idempotent.
    const again = createQuotaClock({ config: { store: path } });
    try {
      expect(await again.init()).toMatchObject({ applied: [] });
      expect((await again.status('alice')).features.stock_reports!.used).toBe(1);
    } finally {
      await again.close();
    }
  });

  it('createStore: false refuses a missing database and creates nothing', async () => {
    const path = join(dir, 'typo', 'quotaclock.db');
    const quotas = createQuotaClock({ config: { store: path }, createStore: false });
    try {
      await expect(quotas.status('alice')).rejects.toMatchObject({
        code: 'STORE_NOT_FOUND',
        message: `no database at ${path} (run quotaclock init)`,
      });
    } finally {
      await quotas.close();
    }
    expect(readdirSync(dir)).not.toContain('typo');
  });

  it('status of an unknown subject is SUBJECT_NOT_FOUND unless asNew', async () => {
    const quotas = createQuotaClock({ config: { store: join(dir, 'ghost.db') } });
    try {
      await expect(quotas.status('ghost')).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
      expect(await quotas.status('ghost', { asNew: true })).toMatchObject({ plan: 'free' });
      // check() answers what a consume would meet: the subject would be created.
      expect(await quotas.check('ghost', 'stock_reports')).toMatchObject({ allowed: true });
    } finally {
      await quotas.close();
    }
  });
});
