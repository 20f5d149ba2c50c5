/**
 * The shipped firestore.rules on the emulator, through its REST API: rules
 * are PUT for one project, then clients read and write with the emulator's
 * unsigned ID tokens (alg "none"), exactly as a browser SDK would be judged.
 * A signed-in user reads their own quota document and history; nothing else
 * is readable and nothing is writable from a client.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clearProject, emulatorDescribe, uniqueProjectId } from '../helpers/firestore-emulator.js';
import { ROOT } from '../helpers/cli.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An ID token the emulator accepts without a signature. */
function idToken(project: string, uid: string): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'none', kid: 'fakekid', typ: 'JWT' };
  const payload = {
    iss: `https://securetoken.google.com/${project}`,
    aud: project,
    auth_time: now,
    user_id: uid,
    sub: uid,
    iat: now,
    exp: now + 3600,
    firebase: { sign_in_provider: 'password', identities: {} },
  };
  return `${b64(header)}.${b64(payload)}.`;
}

await emulatorDescribe('firestore.rules on the emulator', (emulator) => {
  const project = uniqueProjectId('rules');
  const base = `http://${emulator.host}/v1/projects/${project}/databases/(default)/documents`;
  let admin: Firestore;

  const call = async (method: string, path: string, uid: string | null, body?: unknown) => {
    const res = await fetch(`${base}/${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(uid ? { authorization: `Bearer ${idToken(project, uid)}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.status;
  };
  const fields = {
    fields: { current_usage: { mapValue: { fields: { stock_reports: { integerValue: '0' } } } } },
  };

  beforeAll(async () => {
    const rules = readFileSync(join(ROOT, 'firestore.rules'), 'utf8');
    const put = await fetch(
      `http://${emulator.host}/emulator/v1/projects/${project}:securityRules`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rules: { files: [{ name: 'firestore.rules', content: rules }] } }),
      },
    );
    expect(put.status, await put.text()).toBe(200);
    admin = new Firestore({ projectId: project, universeDomain: 'googleapis.com' });
    const t = Timestamp.fromMillis(Date.parse('2026-01-01T00:00:00Z'));
    for (const uid of ['alice', 'bob']) {
      const ref = admin.collection('userQuotas').doc(uid);
      await ref.set({
        user_uid: uid,
        plan_type: 'free',
        current_usage: { stock_reports: 3 },
        current_period_start: t,
      });
      await ref
        .collection('usage_history')
        .doc('2025-12')
        .set({ period: '2025-12', user_uid: uid, summary: { total_stock_reports: 7 } });
      await ref
        .collection('usage_events')
        .doc('e1')
        .set({ kind: 'consume', meta_json: '{"report_id":"internal"}' });
    }
    await admin.collection('quotaclockRuns').doc('2025-12').set({ status: 'closed' });
    await admin.collection('quotaclockLeases').doc('reset').set({ holder: 'h' });
    await admin.collection('quotaclockAudit').doc('a1').set({ action: 'subject.add' });
  });
  afterAll(async () => {
    await admin?.terminate();
    await clearProject(emulator.host, project);
  });

  it('lets a signed-in user read their own quota document and history', async () => {
    expect(await call('GET', 'userQuotas/alice', 'alice')).toBe(200);
    expect(await call('GET', 'userQuotas/alice/usage_history/2025-12', 'alice')).toBe(200);
    expect(await call('GET', 'userQuotas/alice/usage_history', 'alice')).toBe(200);
  });

  it("refuses another user's documents and anonymous reads", async () => {
    expect(await call('GET', 'userQuotas/bob', 'alice')).toBe(403);
    expect(await call('GET', 'userQuotas/bob/usage_history/2025-12', 'alice')).toBe(403);
    expect(await call('GET', 'userQuotas/bob/usage_history', 'alice')).toBe(403);
    expect(await call('GET', 'userQuotas/alice', null)).toBe(403);
    expect(await call('GET', 'userQuotas/alice/usage_history/2025-12', null)).toBe(403);
    // Listing every user's quota is not reading one's own.
    expect(await call('GET', 'userQuotas', 'alice')).toBe(403);
  });

  it('keeps events and the job’s documents server-side', async () => {
    expect(await call('GET', 'userQuotas/alice/usage_events/e1', 'alice')).toBe(403);
    expect(await call('GET', 'userQuotas/alice/usage_events', 'alice')).toBe(403);
    for (const path of ['quotaclockRuns/2025-12', 'quotaclockLeases/reset', 'quotaclockAudit/a1']) {
      expect(await call('GET', path, 'alice'), path).toBe(403);
    }
  });

  it('lets no client write anything, not even to its own documents', async () => {
    expect(await call('PATCH', 'userQuotas/alice', 'alice', fields)).toBe(403);
    expect(await call('DELETE', 'userQuotas/alice', 'alice')).toBe(403);
    expect(await call('PATCH', 'userQuotas/carol', 'carol', fields)).toBe(403);
    expect(await call('PATCH', 'userQuotas/alice/usage_history/2025-12', 'alice', fields)).toBe(
      403,
    );
    expect(await call('PATCH', 'userQuotas/alice/usage_events/e2', 'alice', fields)).toBe(403);
    expect(await call('PATCH', 'quotaclockRuns/2026-01', 'alice', fields)).toBe(403);
    expect(await call('PATCH', 'quotaclockLeases/reset', 'alice', fields)).toBe(403);
    expect((await admin.collection('userQuotas').doc('alice').get()).get('current_usage')).toEqual({
      stock_reports: 3,
    });
    expect((await admin.collection('userQuotas').doc('carol').get()).exists).toBe(false);
  });

  it('still lets the server (quotaclock, as the Admin SDK) do everything', async () => {
    const res = await fetch(`${base}/quotaclockRuns/2025-12`, {
      headers: { authorization: 'Bearer owner' },
    });
    expect(res.status).toBe(200);
  });
});
