/** Shapes of the service's admin side: API keys, sessions, the audit log and the event ledger. */

export const SCOPES = ['quota:read', 'quota:write', 'admin:read', 'admin:write'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  readonly scopes: Scope[];
  /** The key's first characters, for display; never enough to use it. */
  readonly prefix: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt?: string | null;
}

/** Returned once, by create; the store keeps only a hash. */
export interface NewApiKey extends ApiKeyInfo {
  readonly key: string;
}

export const AUDIT_ACTIONS = [
  'subject.create',
  'subject.update',
  'subject.auto_create',
  'subject.import',
  'plan.set',
  'override.set',
  'subject.suspend',
  'subject.unsuspend',
  'subject.reset',
  'event.refund',
  'key.create',
  'key.revoke',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: AuditAction;
  readonly subject?: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly reason?: string;
}

export interface UsageEventView {
  readonly id: string;
  readonly at: string;
  readonly subject: string;
  readonly feature: string;
  readonly kind: 'consume' | 'refund' | 'reset';
  readonly amount: number;
  readonly periodKey: string;
  readonly key: string | null;
  readonly meta: Record<string, unknown>;
  /** Consumes only: whether it counted (a denied consume is in the ledger too). */
  readonly granted?: boolean;
}

/** Who makes an admin write: 'cli' or a key's name. */
export interface Actor {
  readonly actor: string;
  readonly reason?: string;
}

export const CLI_ACTOR: Actor = Object.freeze({ actor: 'cli' });

export interface SubjectPatch {
  readonly timeZone?: string | null;
  readonly email?: string | null;
  readonly displayName?: string | null;
}

export type { ListOptions as SubjectListOptions } from './types.js';

export interface AuditListOptions {
  readonly after?: string | null;
  readonly limit?: number;
  readonly actor?: string;
  readonly subject?: string;
}

export interface EventListOptions {
  readonly after?: string | null;
  readonly limit?: number;
}

export interface SessionInfo {
  readonly key: ApiKeyInfo;
  readonly expiresAt: string;
}

export interface NewSession {
  /** Opaque; shown once, the store keeps its hash. */
  readonly token: string;
  readonly expiresAt: string;
}
