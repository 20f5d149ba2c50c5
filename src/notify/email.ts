import { readFileSync } from 'node:fs';
import type { NotifyTargetConfig } from '../config/notify-schema.js';
import type { NotifyEventType } from '../config/notify-schema.js';
import { loadSecret, SecretUnavailableError } from './secrets.js';
import { renderHtml, renderText } from './render.js';
import { PermanentDeliveryError, type Notifier, type NotifyEvent } from './types.js';

type EmailConfig = Extract<NotifyTargetConfig, { type: 'email' }>;

export interface SmtpSettings {
  readonly host: string;
  readonly port: number;
  readonly security: 'starttls' | 'tls' | 'none';
  readonly user?: string;
  readonly password?: string;
  readonly ca?: string;
}

/**
 * Where the SMTP server and its credentials come from, in order: the target's
 * smtp.url, its smtp.host (+ user, password), env SMTP_URL, env SMTP_HOST
 * (+ SMTP_PORT, SMTP_USER, SMTP_PASSWORD or SMTP_PASS).
 */
export function resolveSmtp(cfg: EmailConfig, where: string, env: NodeJS.ProcessEnv): SmtpSettings {
  const smtp = cfg.smtp;
  const security = smtp.security;
  const defaultPort = security === 'tls' ? 465 : 587;
  const ca = smtp.caFile ? readCa(smtp.caFile, `${where}.smtp.caFile`) : undefined;
  const withCa = ca === undefined ? {} : { ca };
  const fromUrl = (raw: string, urlWhere: string): SmtpSettings => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new SecretUnavailableError(
        'the SMTP URL is not a valid URL (expected smtp://user:password@host:port)',
        urlWhere,
      );
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      throw new SecretUnavailableError(
        `the SMTP URL must start with smtp:// or smtps://`,
        urlWhere,
      );
    }
    return {
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : defaultPort,
      security: url.protocol === 'smtps:' ? 'tls' : security,
      ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...withCa,
    };
  };
  if (smtp.url) return fromUrl(loadSecret(smtp.url, `${where}.smtp.url`, env), `${where}.smtp.url`);
  const envPassword = (): string | undefined => {
    if (env.SMTP_PASSWORD)
      return loadSecret({ env: 'SMTP_PASSWORD' }, `${where}.smtp.password`, env);
    if (env.SMTP_PASS) return loadSecret({ env: 'SMTP_PASS' }, `${where}.smtp.password`, env);
    return undefined;
  };
  if (smtp.host) {
    const password = smtp.password
      ? loadSecret(smtp.password, `${where}.smtp.password`, env)
      : envPassword();
    const user = smtp.user ?? env.SMTP_USER;
    return {
      host: smtp.host,
      port: smtp.port ?? defaultPort,
      security,
      ...(user ? { user } : {}),
      ...(password ? { password } : {}),
      ...withCa,
    };
  }
  if (env.SMTP_URL)
    return fromUrl(loadSecret({ env: 'SMTP_URL' }, `${where}.smtp.url`, env), `${where}.smtp.url`);
  if (env.SMTP_HOST) {
    const port = env.SMTP_PORT ? Number(env.SMTP_PORT) : defaultPort;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SecretUnavailableError('SMTP_PORT is not a port number', `${where}.smtp.port`);
    }
    const password = smtp.password
      ? loadSecret(smtp.password, `${where}.smtp.password`, env)
      : envPassword();
    const user = smtp.user ?? env.SMTP_USER;
    return {
      host: env.SMTP_HOST,
      port,
      security,
      ...(user ? { user } : {}),
      ...(password ? { password } : {}),
      ...withCa,
    };
  }
  throw new SecretUnavailableError(
    'no SMTP server: set smtp.host or smtp.url, or SMTP_URL / SMTP_HOST in the environment',
    `${where}.smtp`,
  );
}

function readCa(path: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new SecretUnavailableError(
      `cannot read CA file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      where,
    );
  }
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
}

export class EmailNotifier implements Notifier {
  readonly kind = 'email' as const;
  private settings: SmtpSettings | undefined;
  private problem: Error | undefined;

  constructor(
    private readonly cfg: EmailConfig,
    readonly label: string,
    private readonly where: string,
    private readonly defaults: readonly NotifyEventType[],
    private readonly timeoutMs: number,
    env: NodeJS.ProcessEnv,
  ) {
    // Secrets are loaded (and registered with the redactor) up front; a
    // missing one becomes this target's delivery failure, not the run's.
    try {
      this.settings = resolveSmtp(cfg, where, env);
    } catch (e) {
      this.problem = e as Error;
    }
  }

  accepts(type: NotifyEventType): boolean {
    if (type === 'report') return !this.cfg.events || this.cfg.events.includes('report');
    return (this.cfg.events ?? this.defaults).includes(type);
  }

  async send(event: NotifyEvent): Promise<void> {
    if (!this.settings)
      throw new PermanentDeliveryError(this.problem?.message ?? 'SMTP is not configured');
    const s = this.settings;
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.security === 'tls',
      requireTLS: s.security === 'starttls',
      ignoreTLS: s.security === 'none',
      ...(s.user ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: this.timeoutMs,
      tls: { servername: s.host, ...(s.ca ? { ca: s.ca } : {}) },
      logger: false,
      debug: false,
    });
    try {
      await transport.sendMail({
        from: this.cfg.from,
        to: this.cfg.to.join(', '),
        subject: event.title,
        text: renderText(event),
        html: event.html ?? renderHtml(event),
        headers: { 'X-Quotaclock-Event': event.type },
        attachments: (event.attachments ?? []).map((a) => ({
          filename: a.filename,
          content: a.content,
          contentType: a.contentType,
          ...(a.cid ? { cid: a.cid, contentDisposition: 'inline' as const } : {}),
        })),
      });
    } catch (e) {
      const err = e as SmtpError;
      const message = `${this.label}: ${err.message}`;
      // A refused login or a 5xx reply will not change on retry; a dropped connection or a 4xx may.
      if (err.code === 'EAUTH' || err.code === 'EENVELOPE' || (err.responseCode ?? 0) >= 500) {
        throw new PermanentDeliveryError(message);
      }
      throw new Error(message);
    } finally {
      transport.close();
    }
  }
}
