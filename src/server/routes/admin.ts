import type { FastifyPluginAsync } from 'fastify';
import type { QuotaClock } from '../../quotaclock.js';

/** /v1/admin: filled in below. */
export const adminRoutes: FastifyPluginAsync<{ qc: QuotaClock }> = async () => {};
