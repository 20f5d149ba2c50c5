/**
 * The earlier system checked the quota outside the transaction that counted,
 * so concurrent requests overshot. Here: twenty separate Firestore clients
 * (twenty store instances, as twenty app servers would be) consume at once
 * against a limit of 10, on a user document written by the old code, and
 * exactly 10 are granted; the same with the first consume of a user nobody
 * has seen, and with one idempotency key shared by all.
 */
import { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { policyFromConfig } from '../../src/quotaclock.js';
import { openStore, parseStoreUrl } from '../../src/store/open-store.js';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { clearProject, emulatorDescribe, uniqueProjectId } from '../helpers/firestore-emulator.js';
import { LEGACY_USERS } from './legacy-fixture.js';

const DEC20 = Date.parse('2025-12-20T12:00:00Z');

await emulatorDescribe('twenty Firestore clients racing for one quota', (emulator) => {
  const project = uniqueProjectId('race');
  const policy = policyFromConfig(parseConfig({}));
  const clients: QuotaStore[] = [];
  let admin: Firestore;

  beforeAll(async () => {
    admin = new Firestore({ projectId: project, universeDomain: 'googleapis.com' });
    // A free user as the old code left it, 0 of 10 used this month.
    await admin
      .collection('userQuotas')
      .doc('racer')
      .set({
        ...LEGACY_USERS['u-free-active'],
        user_uid: 'racer',
        current_usage: { stock_reports: 0 },
      });
    for (let i = 0; i < 20; i += 1) {
      clients.push(await openStore(parseStoreUrl(`firestore://${project}`), policy));
    }
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await admin?.terminate();
    await clearProject(emulator.host, project);
  });

  it('grants exactly 10 of 20 concurrent consumes on a limit of 10', async () => {
    const results = await Promise.all(
      clients.map((c) => c.consume('racer', 'stock_reports', 1, { now: DEC20 })),
    );
    expect(results.filter((r) => r.granted)).toHaveLength(10);
    expect(
      results
        .filter((r) => !r.granted)
        .every((r) => r.reason === 'quota_exceeded' && r.used === 10),
    ).toBe(true);
    expect(
      results
        .filter((r) => r.granted)
        .map((r) => r.used)
        .sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const doc = (await admin.collection('userQuotas').doc('racer').get()).data()!;
    expect(doc.current_usage.stock_reports).toBe(10);
    const events = await admin
      .collection('userQuotas')
      .doc('racer')
      .collection('usage_events')
      .get();
    expect(events.size).toBe(20);
    expect(events.docs.reduce((n, e) => n + (e.get('delta') as number), 0)).toBe(10);
  });

  it('creates a user seen for the first time once, and still grants exactly 10', async () => {
    const results = await Promise.all(
      clients.map((c) => c.consume('newcomer', 'stock_reports', 1, { now: DEC20 })),
    );
    expect(results.filter((r) => r.granted)).toHaveLength(10);
    const audit = await admin
      .collection('quotaclockAudit')
      .where('subject', '==', 'newcomer')
      .get();
    expect(audit.docs.map((d) => d.get('action'))).toEqual(['subject.auto_create']);
  });

  it('counts one idempotency key once across all twenty', async () => {
    const results = await Promise.all(
      clients.map((c) => c.consume('keyed', 'stock_reports', 3, { now: DEC20, key: 'report-42' })),
    );
    expect(results.filter((r) => r.replayed !== true)).toHaveLength(1);
    expect(results.every((r) => r.granted && r.used === 3)).toBe(true);
    expect((await clients[0]!.status('keyed', DEC20)).features.stock_reports?.used).toBe(3);
  });
});
