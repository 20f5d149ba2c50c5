import type { SubjectRowColumns } from '../row-mapping.js';

export { SUBJECT_COLUMNS, parseOverrides, publicSubject, toSubject } from '../row-mapping.js';

/** A subjects row as better-sqlite3 returns it: booleans are 0/1. */
export interface SubjectDbRow extends SubjectRowColumns {
  suspended: number;
}
