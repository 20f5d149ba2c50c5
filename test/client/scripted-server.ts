/**
 * A real HTTP server on 127.0.0.1 whose answers the test scripts: a service
 * that is down, stalls, or answers 503. It records what the client sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | undefined;
  readonly body: string;
}

export type Script = (n: number, req: IncomingMessage, res: ServerResponse) => void;

export interface ScriptedServer {
  readonly url: string;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startScriptedServer(script: Script): Promise<ScriptedServer> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const header = req.headers['idempotency-key'];
      seen.push({
        at: Date.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        idempotencyKey: Array.isArray(header) ? header.join(',') : header,
        body: Buffer.concat(chunks).toString(),
      });
      script(seen.length, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function problem(
  res: ServerResponse,
  status: number,
  code: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  res.end(
    JSON.stringify({
      type: 'about:blank',
      title: code,
      status,
      detail: `${code} detail`,
      code,
      where: 'amount',
    }),
  );
}
