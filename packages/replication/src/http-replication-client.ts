/**
 * The caller side of HTTP replication. One transaction ID per logical call, reused by its retries, so
 * the callee runs it once however often the network makes us repeat it. Retries cover what a restart
 * or a deploy looks like from outside — refused/reset connections, timeouts, 503 — with backoff; any
 * other answer is final. Errors come back as MatrixErrors carrying the callee's status and errcode, so
 * a handler can let them propagate to its own client.
 */
import type { JsonValue, Logger } from '@hs/core';
import { MatrixError, silentLogger } from '@hs/core';
import got, { RequestError } from 'got';
import { encodePositions, newTxnId, POSITIONS_HEADER, replicationPath, type StreamPositions } from './http-replication.ts';

/** An `instance_map` entry: a TCP address, or (Synapse's `path`) a unix socket. */
export type InstanceLocation = { host: string; port: number; tls?: boolean } | { path: string };

export interface ReplicationClientOptions {
  /** `worker_replication_secret`; null sends no Authorization header. */
  secret: string | null;
  instanceMap: Readonly<Record<string, InstanceLocation>> | ((instance: string) => InstanceLocation | undefined);
  /** This process's positions on the streams it writes, sent with every call unless overridden. */
  positions?: () => StreamPositions;
  retry?: { attempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** Per attempt. Default 60 s. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface ReplicationCallOptions {
  method?: 'GET' | 'POST' | 'PUT';
  txnId?: string;
  positions?: StreamPositions;
}

/** A failed replication call: the callee's error, or 502 when it could not be reached. */
export class ReplicationCallError extends MatrixError {
  readonly instance: string;
  readonly endpoint: string;
  constructor(instance: string, endpoint: string, httpStatus: number, errcode: string, message: string, extra: Record<string, unknown> = {}) {
    super(httpStatus, errcode, message, extra);
    this.name = 'ReplicationCallError';
    this.instance = instance;
    this.endpoint = endpoint;
  }
}

const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function parseJson(text: string): JsonValue | undefined {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}

export class ReplicationClient {
  private readonly options: ReplicationClientOptions;
  private readonly log: Logger;
  private readonly attempts: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: ReplicationClientOptions) {
    this.options = options;
    this.log = options.logger ?? silentLogger;
    this.attempts = Math.max(1, options.retry?.attempts ?? 5);
    this.initialDelayMs = options.retry?.initialDelayMs ?? 200;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 5_000;
  }

  /** Calls endpoint `name` on `instance` and returns its JSON response. */
  async call<T extends JsonValue = JsonValue>(
    instance: string,
    name: string,
    params: readonly string[],
    body?: JsonValue,
    options: ReplicationCallOptions = {},
  ): Promise<T> {
    const location = this.locate(instance, name);
    const method = options.method ?? 'POST';
    const route = replicationPath(name, params, options.txnId ?? newTxnId());
    // got's unix-socket form: http://unix:<socket path>:<request path>.
    const url =
      'path' in location
        ? `http://unix:${location.path}:${route}`
        : `${location.tls ? 'https' : 'http'}://${hostForUrl(location.host)}:${location.port}${route}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.secret !== null) headers['authorization'] = `Bearer ${this.options.secret}`;
    const positions = options.positions ?? this.options.positions?.();
    if (positions !== undefined && Object.keys(positions).length > 0) headers[POSITIONS_HEADER] = encodePositions(positions);
    let payload: string | undefined;
    if (body !== undefined && method !== 'GET') {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }

    let delay = this.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.attempts;
      let status: number;
      let text: string;
      try {
        const res = await got(url, {
          method,
          headers,
          body: payload,
          throwHttpErrors: false,
          followRedirect: false,
          retry: { limit: 0 },
          enableUnixSockets: 'path' in location,
          timeout: { request: this.options.timeoutMs ?? 60_000 },
          responseType: 'text',
        });
        status = res.statusCode;
        text = res.body;
      } catch (e) {
        const code = e instanceof RequestError ? e.code : undefined;
        if (code === undefined || !RETRYABLE_CODES.has(code) || last) {
          throw new ReplicationCallError(instance, name, 502, 'M_UNKNOWN', `Failed to talk to ${instance}: ${String(code ?? e)}`);
        }
        this.log.debug('replication: call failed, retrying', { instance, endpoint: name, attempt, code });
        await sleep(delay);
        delay = Math.min(delay * 2, this.maxDelayMs);
        continue;
      }
      if (status === 503 && !last) {
        this.log.debug('replication: callee unavailable, retrying', { instance, endpoint: name, attempt });
        await sleep(delay);
        delay = Math.min(delay * 2, this.maxDelayMs);
        continue;
      }
      const parsed = parseJson(text);
      if (status >= 200 && status < 300) {
        if (parsed === undefined) throw new ReplicationCallError(instance, name, 502, 'M_UNKNOWN', `${instance} sent invalid JSON`);
        return parsed as T;
      }
      throw errorFrom(instance, name, status, parsed);
    }
  }

  private locate(instance: string, endpoint: string): InstanceLocation {
    const map = this.options.instanceMap;
    const location = typeof map === 'function' ? map(instance) : Object.hasOwn(map, instance) ? map[instance] : undefined;
    if (location === undefined) {
      this.log.error('replication: an instance is missing from instance_map', { instance, endpoint });
      throw new ReplicationCallError(instance, endpoint, 502, 'M_UNKNOWN', `${instance} is not in instance_map`);
    }
    return location;
  }
}

function errorFrom(instance: string, endpoint: string, status: number, body: JsonValue | undefined): ReplicationCallError {
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && typeof body['errcode'] === 'string') {
    const { errcode, error, ...extra } = body;
    return new ReplicationCallError(instance, endpoint, status, errcode as string, typeof error === 'string' ? error : errcode as string, extra);
  }
  return new ReplicationCallError(instance, endpoint, status, 'M_UNKNOWN', `${instance} answered ${status}`);
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
