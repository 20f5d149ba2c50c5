import type { RunStatus } from '../../../store/quota-store.js';
import type { Tone } from '../components.js';

/** What the overview and the runs page both say about the close: its colour and the next one. */

export function runTone(status: RunStatus | string): Tone {
  if (status === 'closed') return 'ok';
  if (status === 'failed') return 'danger';
  if (status === 'partial' || status === 'running') return 'warn';
  return 'neutral';
}

/** The next scheduled close, from schedule.cron in its zone. */
export interface NextClose {
  readonly at: string;
  readonly cron: string;
  readonly zone: string;
}
