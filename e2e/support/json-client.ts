/**
 * A plain JSON client for the benchmarks' load generator and for tests that need no SDK: node:http over
 * a keep-alive agent with a socket per concurrent caller, so no request waits for a connection and none
 * pays for a TCP handshake. Lighter per request than `fetch`, which matters when the generator shares two
 * cores with the server it measures.
 */
import http from 'node:http';

export class MatrixHttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(message: string, status: number, body: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export class JsonClient {
  private readonly url: URL;
  private readonly agent: http.Agent;

  /** `connections`: how many requests may be in flight at once (one socket each). */
  constructor(baseUrl: string, connections: number) {
    this.url = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  /**
   * A JSON request. A 401 that carries UIA `flows` is an answer, not an error (the first step of
   * `/register`); any other status ≥ 400 throws.
   */
  call(token: string | undefined, method: string, path: string, body?: unknown): Promise<any> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.url.hostname, port: this.url.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let json: any;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(new MatrixHttpError(`${method} ${path}: ${status}, body is not JSON`, status, undefined));
            }
            if (status >= 400 && !(status === 401 && json?.flows)) {
              return reject(new MatrixHttpError(`${method} ${path}: ${status} ${JSON.stringify(json)}`, status, json));
            }
            resolve(json);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Close every socket (in-flight requests fail). */
  close(): void {
    this.agent.destroy();
  }
}
