/**
 * A real HTTP proxy on 127.0.0.1 that forwards every request to the server,
 * reads the server's whole answer, and then, for every other request (the
 * 1st, 3rd, 5th…), drops the connection instead of passing the answer on: the
 * server did the work, the client never hears of it.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultProxy {
  readonly url: string;
  /** Requests the server answered. */
  readonly forwarded: number;
  /** Answers thrown away after the server had sent them. */
  readonly dropped: number;
  close(): Promise<void>;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function startFaultProxy(
  target: string,
  opts: { dropEveryOther: boolean },
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const stats = { forwarded: 0, dropped: 0 };
  let seen = 0;

  const forward = (req: IncomingMessage, body: Buffer): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: upstream.host, connection: 'close' };
      const out = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
        },
        resolve,
      );
      out.on('error', reject);
      out.end(body);
    });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const n = ++seen;
      const body = await readAll(req);
      const answer = await forward(req, body);
      const answerBody = await readAll(answer);
      stats.forwarded += 1;
      if (opts.dropEveryOther && n % 2 === 1) {
        stats.dropped += 1;
        req.socket.destroy();
        return;
      }
      const headers = { ...answer.headers };
      delete headers['transfer-encoding'];
      delete headers.connection;
      headers['content-length'] = String(answerBody.length);
      res.writeHead(answer.statusCode ?? 502, headers);
      res.end(answerBody);
    })().catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get forwarded() {
      return stats.forwarded;
    },
    get dropped() {
      return stats.dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
