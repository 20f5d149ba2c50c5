import type { BackupRecord, StoreBackup } from '../quota-store.js';
import { exportFirestore } from './backup-export.js';
import { importFirestore } from './backup-import.js';
import type { FsContext } from './context.js';

/** The backup role: engine-neutral records out (backup-export.ts), and into an empty store (backup-import.ts). */
export class FsBackup implements StoreBackup {
  constructor(private readonly ctx: FsContext) {}

  exportRecords(): AsyncIterable<BackupRecord> {
    return exportFirestore(this.ctx, this.ctx.now());
  }

  importRecords(records: readonly BackupRecord[]): Promise<{ records: number }> {
    return importFirestore(this.ctx, records);
  }
}
