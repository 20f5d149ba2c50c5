import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import type { QuotaClockConfigInput } from '../../src/config/schema.js';

export function tempDir(prefix = 'qc-notify-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Receiver {
  readonly base: string;
  readonly requests: ReceivedRequest[];
  /** Responses to give, in order; after the list runs out every request gets 200. */
  respond: number[];
  /** Responses for requests whose path starts with `prefix`, in order (then the shared list, then 200). */
  plan(prefix: string, statuses: number[]): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records every request. */
export async function startReceiver(respond: number[] = []): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const state = { respond: [...respond], byPrefix: new Map<string, number[]>() };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      const planned = [...state.byPrefix.entries()].find(
        ([prefix, list]) => (req.url ?? '').startsWith(prefix) && list.length > 0,
      );
      const status = (planned ? planned[1].shift() : state.respond.shift()) ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'failing on purpose');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    get respond() {
      return state.respond;
    },
    set respond(v: number[]) {
      state.respond = [...v];
    },
    plan(prefix: string, statuses: number[]) {
      state.byPrefix.set(prefix, [...statuses]);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface SmtpMessage {
  readonly from: string;
  readonly to: string[];
  readonly raw: string;
  readonly secure: boolean;
  readonly user: string | undefined;
}

export interface Smtp {
  readonly port: number;
  readonly caFile: string;
  readonly messages: SmtpMessage[];
  readonly authFailures: number;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made with openssl, so STARTTLS is verified for real. */
function makeCertificate(dir: string): { key: string; cert: string; caFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return {
    key: readFileSync(keyFile, 'utf8'),
    cert: readFileSync(certFile, 'utf8'),
    caFile: certFile,
  };
}

/** A real SMTP server in-process: STARTTLS, AUTH PLAIN/LOGIN, refuses mail before auth. */
export async function startSmtp(credentials: { user: string; pass: string }): Promise<Smtp> {
  const dir = tempDir('qc-smtp-');
  const { key, cert, caFile } = makeCertificate(dir);
  const messages: SmtpMessage[] = [];
  let authFailures = 0;
  const server = new SMTPServer({
    key,
    cert,
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      if (auth.username === credentials.user && auth.password === credentials.pass)
        return cb(null, { user: auth.username });
      authFailures += 1;
      const err = new Error('Authentication failed') as Error & { responseCode: number };
      err.responseCode = 535;
      return cb(err);
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (raw += c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          secure: session.secure,
          user: session.user as string | undefined,
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    caFile,
    messages,
    get authFailures() {
      return authFailures;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Minimal MIME reading for assertions: headers, and the decoded body of each leaf part. */
export interface MimePart {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

function parseHeaders(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

function decodeBody(body: string, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64');
    case 'quoted-printable': {
      const soft = body.replace(/=\r?\n/g, '');
      const bytes: number[] = [];
      for (let i = 0; i < soft.length; i++) {
        if (soft[i] === '=' && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
          bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
          i += 2;
        } else bytes.push(...Buffer.from(soft[i]!, 'utf8'));
      }
      return Buffer.from(bytes);
    }
    default:
      return Buffer.from(body, 'utf8');
  }
}

export function parseMime(raw: string): { headers: Record<string, string>; parts: MimePart[] } {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = parseHeaders(raw.slice(0, split));
  const rest = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const parts: MimePart[] = [];
  const walk = (h: Record<string, string>, body: string) => {
    const m = /boundary="?([^";]+)"?/i.exec(h['content-type'] ?? '');
    if (!m) {
      parts.push({ headers: h, body: decodeBody(body, h['content-transfer-encoding']) });
      return;
    }
    for (const chunk of body.split(`--${m[1]}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      const c = chunk.replace(/^\r?\n/, '');
      const at = c.search(/\r?\n\r?\n/);
      walk(
        parseHeaders(c.slice(0, at)),
        c
          .slice(at)
          .replace(/^\r?\n\r?\n/, '')
          .replace(/\r?\n$/, ''),
      );
    }
  };
  walk(headers, rest);
  return { headers, parts };
}

/** A logger whose lines (JSON, as written) are kept for assertions and secret greps. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(l);
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

export const FAST_RETRY = { attempts: 3, initialDelayMs: 20, maxDelayMs: 100 };

/** A fresh SQLite-backed service with a few subjects and October usage, ready to close October. */
export async function seededClock(
  dir: string,
  config: QuotaClockConfigInput = {},
  clockIso = '2026-10-15T12:00:00Z',
): Promise<QuotaClock & { setNow(iso: string): void }> {
  let now = Date.parse(clockIso);
  const qc = createQuotaClock({
    config: { store: `sqlite:${join(dir, 'q.db')}?synchronous=normal`, ...config },
    clock: () => now,
  }) as QuotaClock & {
    setNow(iso: string): void;
  };
  qc.setNow = (iso: string) => {
    now = Date.parse(iso);
  };
  await qc.init();
  const plans: Array<[string, string]> = [
    ['alice', 'pro'],
    ['bob', 'pro'],
    ['carol', 'free'],
    ['dave', 'free'],
    ['erin', 'enterprise'],
  ];
  for (const [id, plan] of plans) await qc.addSubject({ id, plan, anchor: '2026-09-01T00:00:00Z' });
  const usage: Record<string, number> = { alice: 45, bob: 10, carol: 9, dave: 0, erin: 30 };
  for (const [id, n] of Object.entries(usage)) {
    for (let i = 0; i < n; i++)
      await qc.consume(id, 'stock_reports', 1, {
        now: Date.parse(`2026-10-${String((i % 28) + 1).padStart(2, '0')}T09:00:00Z`),
      });
  }
  return qc;
}

export function writeSecretFile(dir: string, name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return path;
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
