import type { SubjectRowColumns } from '../row-mapping.js';

export { SUBJECT_COLUMNS, parseOverrides, publicSubject, toSubject } from '../row-mapping.js';

/** A subjects row as pg returns it (BIGINT parsed to number by the pool). */
export interface SubjectDbRow extends SubjectRowColumns {
  suspended: boolean;
}
