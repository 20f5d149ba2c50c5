export { createQuotaClock, QuotaClock, policyFromConfig } from './quotaclock.js';
export type {
  CreateQuotaClockOptions,
  ConsumeCallOptions,
  CheckResult,
  Clock,
} from './quotaclock.js';
export { parseConfig, defaultConfig } from './config/parse.js';
export { loadConfig } from './config/load.js';
export type { QuotaClockConfig, QuotaClockConfigInput } from './config/schema.js';
export * from './core/errors.js';
export { DEFAULT_PLANS, PlanCatalog } from './core/plans.js';
export type { Plan, Limit, Limits, PlanSet } from './core/plans.js';
export { PeriodSchedule, PeriodCalculator, DEFAULT_PERIOD_RULE } from './core/period.js';
export type { Period, PeriodRule, PeriodUnit, AnchorKind } from './core/period.js';
export type * from './core/types.js';
export type { AnswerClock } from './core/answer-clock.js';
export type { QuotaStore, StoreCapabilities, RunRecord } from './store/quota-store.js';
export { openStore, parseStoreUrl } from './store/open-store.js';
export { resetAllUserQuotas, runScheduledReset } from './jobs/reset-all.js';
export type { ResetAllOptions, ScheduledResetOptions, ResetTrigger } from './jobs/reset-all.js';
export type { ResetReport, ClosedPeriodReport } from './jobs/reset-report.js';
export { runVerify } from './jobs/verify.js';
export type { VerifyReport } from './jobs/verify.js';
// Monitoring: receivers verify webhook signatures; apps serve metrics or ping heartbeats themselves.
export { verifyWebhookSignature, signWebhook } from './notify/webhook.js';
export { createHeartbeat, Heartbeat } from './notify/heartbeat.js';
export type { HeartbeatKind } from './notify/heartbeat.js';
export type { DeliveryResult, NotifyEvent } from './notify/types.js';
export { runVerifyAndNotify } from './notify/verify-monitor.js';
export { renderMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics/prometheus.js';
export { buildUsageReport } from './report/usage-report.js';
export type { UsageReport, ReportOptions } from './report/usage-report.js';
// The service side: API keys, sessions, the audit log.
export type * from './core/admin-types.js';
export { SCOPES, AUDIT_ACTIONS, CLI_ACTOR } from './core/admin-types.js';
export { scopeAllows, parseScopes } from './core/api-key.js';
export { ApiKeys, Sessions, AuditLog } from './quotaclock-admin.js';
