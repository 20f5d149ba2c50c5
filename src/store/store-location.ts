import { isAbsolute, resolve } from 'node:path';
import { BadInputError } from '../core/errors.js';

export type StoreLocation =
  | { engine: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' }
  | { engine: 'postgres'; url: string }
  /** projectId '' means FIREBASE_PROJECT_ID or the key's project; query holds the engine's own options. */
  | { engine: 'firestore'; projectId: string; query?: string };

/** Where a store is, for people: the SQLite file, or the URL without its password. */
export function describeLocation(location: StoreLocation): string {
  switch (location.engine) {
    case 'sqlite':
      return location.path;
    case 'postgres': {
      try {
        const u = new URL(location.url);
        if (u.password) u.password = '';
        return u.toString();
      } catch {
        return 'postgres://…';
      }
    }
    case 'firestore':
      return `firestore://${location.projectId || '(project from the environment)'}`;
  }
}

/** Parses --db / QUOTACLOCK_DB / config.store. */
export function parseStoreUrl(url: string, cwd = process.cwd(), where = '--db'): StoreLocation {
  const value = url.trim();
  if (value === '') throw new BadInputError(`${where}: empty store URL`, where);
  if (/^postgres(ql)?:\/\//i.test(value)) return { engine: 'postgres', url: value };
  if (/^firestore:\/\//i.test(value)) {
    const [rest, query = ''] = value.slice('firestore://'.length).split('?', 2) as [
      string,
      string?,
    ];
    const projectId = rest.replace(/\/+$/, '');
    if (projectId !== '' && !/^[a-z0-9-]{1,64}$/i.test(projectId)) {
      throw new BadInputError(`${where}: expected firestore://<project-id>`, where);
    }
    return { engine: 'firestore', projectId, ...(query ? { query } : {}) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !/^sqlite:/i.test(value)) {
    throw new BadInputError(
      `${where}: unsupported store "${value.split(':')[0]}" (use sqlite:<path>, postgres://… or firestore://<project>)`,
      where,
    );
  }
  const [rawPath, query = ''] = value.replace(/^sqlite:(\/\/)?/i, '').split('?', 2) as [
    string,
    string?,
  ];
  const params = new URLSearchParams(query);
  let synchronous: 'FULL' | 'NORMAL' | undefined;
  for (const [k, v] of params) {
    if (k !== 'synchronous' || !/^(full|normal)$/i.test(v)) {
      throw new BadInputError(
        `${where}: unsupported SQLite option "${k}=${v}" (supported: synchronous=full|normal)`,
        where,
      );
    }
    synchronous = v.toUpperCase() as 'FULL' | 'NORMAL';
  }
  const path = rawPath === ':memory:' || isAbsolute(rawPath) ? rawPath : resolve(cwd, rawPath);
  return { engine: 'sqlite', path, ...(synchronous ? { synchronous } : {}) };
}
