/**
 * The Firestore store keeps time by the clock the library was given (a
 * pinned --now, a backfill), not by the wall clock, in the calls whose
 * contract passes no time: here migrate, which stamps the layout version.
 */
import { afterAll, expect, it } from 'vitest';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import type { FirestoreStore } from '../../src/store/firestore/index.js';
import { clearProject, emulatorDescribe, uniqueProjectId } from '../helpers/firestore-emulator.js';

const PINNED = Date.parse('2020-03-15T12:00:00Z');

await emulatorDescribe('the Firestore store and the injected clock', (emulator) => {
  const project = uniqueProjectId('clock');
  let qc: QuotaClock | undefined;

  afterAll(async () => {
    await qc?.close();
    await clearProject(emulator.host, project);
  });

  it('stamps the layout version with the injected clock', async () => {
    qc = createQuotaClock({ config: { store: `firestore://${project}` }, clock: () => PINNED });
    expect(await qc.init()).toEqual({ applied: [1], current: 1 });
    const store = (await qc.store()) as FirestoreStore;
    const schema = await store.db.collection('quotaclockMeta').doc('schema').get();
    expect(schema.get('updated_at').toMillis()).toBe(PINNED);
  });
});
