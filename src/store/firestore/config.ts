import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadInputError, QuotaClockError } from '../../core/errors.js';

/**
 * What quotaclock reads from `firestore://<project>?…` and the environment.
 *
 *   firestore://my-project?credentials=/etc/quotaclock/key.json&backup_dir=/var/backups/quotaclock
 *
 * - project: the URL's host, else FIREBASE_PROJECT_ID, else the key's project_id.
 * - credentials: a service-account key file; else GOOGLE_APPLICATION_CREDENTIALS; else
 *   Application Default Credentials (the metadata server on Google Cloud).
 * - backup_dir: before the first write of a reset, the userQuotas documents of the closing
 *   period are exported there as JSONL (also QUOTACLOCK_FIRESTORE_BACKUP_DIR).
 * - database: a named Firestore database instead of "(default)".
 * - bulk_ops: the BulkWriter's write rate ceiling per second (default 10000; 0 = unthrottled).
 *
 * With FIRESTORE_EMULATOR_HOST set, the emulator is used and credentials are ignored.
 */
export interface FirestoreOptions {
  readonly projectId: string;
  readonly databaseId: string | null;
  /** Parsed service-account credentials, or null for the emulator / ADC. */
  readonly credentials: { client_email: string; private_key: string } | null;
  /** Where the key came from, for messages (never the key itself). */
  readonly credentialsSource: string | null;
  readonly emulatorHost: string | null;
  readonly backupDir: string | null;
  readonly bulkOpsPerSecond: number;
}

const PROJECT_ID = /^[a-z0-9-]{1,64}$/i;
const DATABASE_ID = /^[a-z][a-z0-9-]{0,62}$|^\(default\)$/;
const KNOWN = new Set(['credentials', 'backup_dir', 'database', 'bulk_ops']);

function credentialsError(source: string, path: string, problem: string): QuotaClockError {
  return new QuotaClockError(
    'STORE_UNAVAILABLE',
    `firestore: the service-account key named by ${source} (${path}) ${problem}; ` +
      'point it at a readable JSON key file (Firebase console → Project settings → Service accounts)',
    { where: source },
  );
}

/**
 * Reads and checks a service-account key. Messages name the file and the
 * problem, never any of its content (a JSON parse error would quote it).
 */
export function readServiceAccountKey(
  path: string,
  source: string,
): { client_email: string; private_key: string; project_id: string | null } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES' || code === 'EPERM'
          ? 'is not readable by this user'
          : code === 'EISDIR'
            ? 'is a directory, not a key file'
            : `cannot be read (${code ?? 'error'})`;
    throw credentialsError(source, path, problem);
  }
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    throw credentialsError(source, path, 'is not valid JSON');
  }
  const k = key as Record<string, unknown> | null;
  if (
    !k ||
    typeof k !== 'object' ||
    typeof k.client_email !== 'string' ||
    typeof k.private_key !== 'string' ||
    (k.type !== undefined && k.type !== 'service_account')
  ) {
    throw credentialsError(
      source,
      path,
      'is not a service-account key (expected type "service_account" with client_email and private_key)',
    );
  }
  return {
    client_email: k.client_email,
    private_key: k.private_key,
    project_id: typeof k.project_id === 'string' ? k.project_id : null,
  };
}

/** Parses the store location and resolves credentials; throws coded errors naming the source. */
export function resolveFirestoreOptions(
  location: { projectId: string; query?: string },
  env: NodeJS.ProcessEnv = process.env,
  where = '--db',
): FirestoreOptions {
  const params = new URLSearchParams(location.query ?? '');
  for (const k of params.keys()) {
    if (!KNOWN.has(k)) {
      throw new BadInputError(
        `${where}: unsupported Firestore option "${k}" (supported: ${[...KNOWN].join(', ')})`,
        where,
      );
    }
  }
  const emulatorHost = env.FIRESTORE_EMULATOR_HOST?.trim() || null;
  const databaseId = params.get('database');
  if (databaseId !== null && !DATABASE_ID.test(databaseId)) {
    throw new BadInputError(
      `${where}: database "${databaseId}" is not a Firestore database id`,
      where,
    );
  }
  const bulkRaw = params.get('bulk_ops');
  let bulkOpsPerSecond = 10_000;
  if (bulkRaw !== null) {
    if (!/^\d{1,7}$/.test(bulkRaw)) {
      throw new BadInputError(`${where}: bulk_ops must be a whole number (0 = unthrottled)`, where);
    }
    bulkOpsPerSecond = Number(bulkRaw);
  }
  const backupRaw = params.get('backup_dir') ?? env.QUOTACLOCK_FIRESTORE_BACKUP_DIR?.trim() ?? '';
  const backupDir = backupRaw === '' ? null : resolve(backupRaw);

  let credentials: FirestoreOptions['credentials'] = null;
  let credentialsSource: string | null = null;
  let keyProject: string | null = null;
  if (!emulatorHost) {
    const fromUrl = params.get('credentials');
    const fromEnv = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
    const path = fromUrl ?? (fromEnv || null);
    if (fromUrl === '') {
      throw new BadInputError(
        `${where}: credentials= needs the path of a service-account key`,
        where,
      );
    }
    if (path) {
      credentialsSource = fromUrl ? `${where} credentials=` : 'GOOGLE_APPLICATION_CREDENTIALS';
      const key = readServiceAccountKey(resolve(path), credentialsSource);
      credentials = { client_email: key.client_email, private_key: key.private_key };
      keyProject = key.project_id;
    }
  }
  const projectId =
    location.projectId ||
    env.FIREBASE_PROJECT_ID?.trim() ||
    keyProject ||
    env.GOOGLE_CLOUD_PROJECT?.trim() ||
    '';
  if (!projectId) {
    throw new BadInputError(
      `${where}: no Firestore project: use firestore://<project-id> or set FIREBASE_PROJECT_ID`,
      where,
    );
  }
  if (!PROJECT_ID.test(projectId)) {
    throw new BadInputError(`${where}: "${projectId}" is not a Firestore project id`, where);
  }
  return {
    projectId,
    databaseId,
    credentials,
    credentialsSource,
    emulatorHost,
    backupDir,
    bulkOpsPerSecond,
  };
}
