/**
 * Starts one Firestore emulator for the whole run when the run includes
 * suites that use it (the contract suite, test/firestore), so that test files
 * share it instead of each starting a JVM. Skipped when FIRESTORE_EMULATOR_HOST
 * is already set (.ci/run starts one) or when the emulator is not installed
 * (the suites then report that themselves).
 */
import type { TestProject } from 'vitest/node';
import { emulatorMissing, startEmulator, type EmulatorHandle } from './firestore-emulator.js';

function runUsesFirestore(): boolean {
  const args = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('-') && a !== 'run' && a !== 'watch');
  // A filter that names files: only start when one of them needs the emulator.
  const filters = args.filter((a) => !/vitest(\.mjs|\.js)?$/.test(a));
  if (filters.length === 0) return true;
  return filters.some((f) => /contract|firestore|test\/?$|^test$/i.test(f));
}

let handle: EmulatorHandle | null = null;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!process.env.FIRESTORE_EMULATOR_HOST && !emulatorMissing() && runUsesFirestore()) {
    handle = await startEmulator();
    process.env.FIRESTORE_EMULATOR_HOST = handle.host;
    process.once('exit', () => handle?.signal());
  }
  if (process.env.FIRESTORE_EMULATOR_HOST) {
    project.provide('firestoreEmulatorHost', process.env.FIRESTORE_EMULATOR_HOST);
  }
  return async () => {
    await handle?.stop();
    handle = null;
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    firestoreEmulatorHost: string;
  }
}
