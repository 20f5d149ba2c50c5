import type { RequestMetrics } from './request-metrics.js';

/** What the server's parts share while it runs: app.ts makes it, the routes and listen() read it. */
export interface ServerState {
  /** Set on SIGTERM: requests read from now on get 503 with Connection: close. */
  draining: boolean;
  readonly metrics: RequestMetrics;
  /** "METHOD /path/:param" of every route, as registered (openapi.json must list each). */
  readonly routes: string[];
}
