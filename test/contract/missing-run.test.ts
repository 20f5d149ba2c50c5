/**
 * finishRun on a key with no ledger row fails the same way on every engine:
 * one coded error, not a driver's TypeError or a plain Error.
 */
import { expect, it } from 'vitest';
import { contract } from './engines.js';

contract('run ledger: a missing run row', ({ engine, useStore }) => {
  const ctx = useStore();

  it('finishRun on a key never begun is NOT_FOUND naming the key, and writes no row', async (t) => {
    // The Firestore side adopts RunNotFoundError on its own branch (issue 13).
    if (engine.name === 'firestore') t.skip('firestore adopts RunNotFoundError separately');
    const { store } = ctx;
    await expect(store.finishRun('1999-01', 'closed', Date.now())).rejects.toMatchObject({
      name: 'RunNotFoundError',
      code: 'NOT_FOUND',
      where: 'key',
      message: 'no run "1999-01" in the ledger',
    });
    expect(await store.getRun('1999-01')).toBeNull();
  });
});
