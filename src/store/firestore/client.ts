import { Firestore, type Settings, type Transaction } from '@google-cloud/firestore';
import { QuotaClockError, StoreUnavailableError } from '../../core/errors.js';
import type { FirestoreOptions } from './config.js';

/** gRPC status codes the store reacts to. */
export const GRPC = {
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
} as const;

export function grpcCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function createFirestore(options: FirestoreOptions): Firestore {
  const settings: Settings = {
    projectId: options.projectId,
    ...(options.databaseId ? { databaseId: options.databaseId } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // Values quotaclock leaves out are simply not written.
    ignoreUndefinedProperties: true,
  };
  if (options.emulatorHost) {
    // Without a universe domain the client probes the GCE metadata server and warns on stderr.
    settings.universeDomain = 'googleapis.com';
  }
  return new Firestore(settings);
}

/**
 * Errors a caller cannot act on by code become STORE_UNAVAILABLE (the
 * service, network or credentials) or STORE_FAILURE; coded errors pass
 * through. Messages never carry credentials: the SDK's own messages name
 * neither the key nor its content.
 */
export function mapFirestoreError(e: unknown): unknown {
  if (e instanceof QuotaClockError) return e;
  const code = grpcCode(e);
  const message = e instanceof Error ? e.message : String(e);
  if (
    /default credentials|Could not load the default credentials|invalid_grant|private key/i.test(
      message,
    )
  ) {
    return new StoreUnavailableError(
      'firestore: no usable credentials: set GOOGLE_APPLICATION_CREDENTIALS or credentials=<key file> ' +
        'in the store URL (or run on Google Cloud with a service account)',
      e,
    );
  }
  if (
    code === GRPC.UNAVAILABLE ||
    code === GRPC.UNAUTHENTICATED ||
    code === GRPC.PERMISSION_DENIED ||
    code === GRPC.DEADLINE_EXCEEDED
  ) {
    return new StoreUnavailableError(`firestore: ${message.split('\n')[0]}`, e);
  }
  if (code !== undefined) {
    return new QuotaClockError(
      'STORE_FAILURE',
      `firestore error ${code}: ${message.split('\n')[0]}`,
      {
        cause: e,
      },
    );
  }
  return e;
}

/**
 * Runs a read-write transaction. Firestore retries it on contention; a
 * coded error thrown inside (quota, suspension, bad input) ends it at once.
 * Many attempts: twenty clients racing for one user's document is a normal
 * load, and every retry re-reads and re-decides from scratch.
 */
export function runTx<T>(db: Firestore, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.runTransaction(fn, { maxAttempts: 60 });
}
