import type { ConsumeResult } from './core/types.js';
import type { QuotaStore } from './store/quota-store.js';

/** What the facade tells observers after a consume has been decided and stored. */
export interface ConsumeEvent {
  readonly subject: string;
  readonly feature: string;
  readonly amount: number;
  readonly result: ConsumeResult;
}

/** The part of the service an observer may use: the open store, nothing above it. */
export interface ObserverContext {
  store(): Promise<QuotaStore>;
}

/**
 * Something a higher layer wants to hear about (a consume crossing a
 * threshold), passed in where the process is put together, so the facade
 * never imports notify, jobs or anything above it. onConsume runs on the hot
 * path: it must return at once and do any I/O in the background; `drain`
 * waits for that background work (QuotaClock.close calls it).
 */
export interface QuotaObserver {
  onConsume?(event: ConsumeEvent, ctx: ObserverContext): void;
  drain?(): Promise<void>;
}
