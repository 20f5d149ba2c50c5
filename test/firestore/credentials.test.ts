/**
 * Credentials for a real project: a service-account key named by
 * GOOGLE_APPLICATION_CREDENTIALS or credentials=<path> in the store URL, the
 * project from the URL, FIREBASE_PROJECT_ID or the key. A missing, unreadable
 * or malformed key is a coded error naming the variable and the file, and
 * never any of the file's content.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveFirestoreOptions } from '../../src/store/firestore/config.js';
import { parseStoreUrl } from '../../src/store/open-store.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'qc-fs-cred-'));
const SECRET = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC-do-not-print';
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
};
const goodKey = file(
  'key.json',
  JSON.stringify({
    type: 'service_account',
    project_id: 'key-project',
    private_key_id: 'abc',
    private_key: `-----BEGIN PRIVATE KEY-----\n${SECRET}\n-----END PRIVATE KEY-----\n`,
    client_email: 'quotaclock@key-project.iam.gserviceaccount.com',
  }),
);
const notJson = file('broken.json', `{"private_key": "-----BEGIN PRIVATE KEY-----\n${SECRET}`);
const oauthClient = file(
  'client.json',
  JSON.stringify({ installed: { client_id: 'x', client_secret: SECRET } }),
);

const location = (url: string) => {
  const l = parseStoreUrl(url, process.cwd(), '--db');
  if (l.engine !== 'firestore') throw new Error('not firestore');
  return l;
};
const resolve = (url: string, env: NodeJS.ProcessEnv) =>
  resolveFirestoreOptions(location(url), env);
const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string; where?: string };
  }
  throw new Error('expected an error');
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Firestore credentials', () => {
  it('uses the key named by GOOGLE_APPLICATION_CREDENTIALS, and its project when none is given', () => {
    const o = resolve('firestore://', { GOOGLE_APPLICATION_CREDENTIALS: goodKey });
    expect(o.projectId).toBe('key-project');
    expect(o.credentials?.client_email).toBe('quotaclock@key-project.iam.gserviceaccount.com');
    expect(o.credentialsSource).toBe('GOOGLE_APPLICATION_CREDENTIALS');
    expect(
      resolve('firestore://', {
        GOOGLE_APPLICATION_CREDENTIALS: goodKey,
        FIREBASE_PROJECT_ID: 'env-project',
      }).projectId,
    ).toBe('env-project');
    expect(
      resolve('firestore://url-project', {
        FIREBASE_PROJECT_ID: 'env-project',
        GOOGLE_APPLICATION_CREDENTIALS: goodKey,
      }).projectId,
    ).toBe('url-project');
  });

  it('prefers credentials=<path> in the store URL (a key path kept in the config file)', () => {
    const o = resolve(`firestore://p1?credentials=${encodeURIComponent(goodKey)}`, {
      GOOGLE_APPLICATION_CREDENTIALS: '/nope.json',
    });
    expect(o.credentialsSource).toBe('--db credentials=');
    expect(o.projectId).toBe('p1');
  });

  it('refuses a missing key file with a coded error naming where it came from', () => {
    const e = failure(() =>
      resolve('firestore://p1', { GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'missing.json') }),
    );
    expect(e).toMatchObject({ code: 'STORE_UNAVAILABLE', where: 'GOOGLE_APPLICATION_CREDENTIALS' });
    expect(e.message).toContain('missing.json');
    expect(e.message).toContain('does not exist');
    const viaUrl = failure(() =>
      resolve(`firestore://p1?credentials=${encodeURIComponent(join(dir, 'gone.json'))}`, {}),
    );
    expect(viaUrl).toMatchObject({ code: 'STORE_UNAVAILABLE', where: '--db credentials=' });
  });

  it('refuses an unreadable, malformed or wrong kind of key without printing any of it', () => {
    for (const [path, problem] of [
      [dir, 'is a directory'],
      [notJson, 'is not valid JSON'],
      [oauthClient, 'is not a service-account key'],
    ] as const) {
      const e = failure(() => resolve('firestore://p1', { GOOGLE_APPLICATION_CREDENTIALS: path }));
      expect(e.code).toBe('STORE_UNAVAILABLE');
      expect(e.message).toContain(problem);
      expect(JSON.stringify({ message: e.message, cause: String(e.cause ?? '') })).not.toContain(
        SECRET.slice(0, 16),
      );
      expect(e.message).not.toContain('PRIVATE KEY');
    }
  });

  it('needs a project from somewhere, and refuses options it does not know', () => {
    expect(failure(() => resolve('firestore://', {}))).toMatchObject({
      code: 'BAD_INPUT',
      where: '--db',
    });
    expect(failure(() => resolve('firestore://p1?colection=x', {})).message).toContain(
      'unsupported Firestore option "colection"',
    );
  });

  it('ignores credentials on the emulator', () => {
    const o = resolve('firestore://p1', {
      FIRESTORE_EMULATOR_HOST: '127.0.0.1:1',
      GOOGLE_APPLICATION_CREDENTIALS: '/nope.json',
    });
    expect(o).toMatchObject({ emulatorHost: '127.0.0.1:1', credentials: null });
  });

  it('reports a bad key from the CLI with exit 1 and no key content on stdout or stderr', async () => {
    ensureBuilt();
    for (const key of [notJson, join(dir, 'missing.json')]) {
      const r = await runCli(['status', 'u1', '--json', '--db', 'firestore://p1'], {
        cwd: dir,
        env: { GOOGLE_APPLICATION_CREDENTIALS: key, FIRESTORE_EMULATOR_HOST: '' },
      });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({
        code: 'STORE_UNAVAILABLE',
        where: 'GOOGLE_APPLICATION_CREDENTIALS',
      });
      expect(r.stdout + r.stderr).not.toContain(SECRET.slice(0, 16));
      expect(r.stderr).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    }
  });
});
