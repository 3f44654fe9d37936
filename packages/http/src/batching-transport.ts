/**
 * A winston transport that writes log lines in batches: one write per flush instead of one system call
 * per line (which, at a request log line each, was a few percent of a busy server's CPU). Warnings and
 * errors are written at once with whatever is pending; other lines at most `flushMs` later, or when the
 * batch is large. On exit (including after an uncaught exception) the rest is written synchronously;
 * a `kill -9` can lose at most the last `flushMs` of info and debug lines — Synapse's default log
 * config buffers the same way.
 */
import fs from 'node:fs';
import TransportStream from 'winston-transport';

/** Where winston's formats leave the finished line (triple-beam's MESSAGE). */
export const MESSAGE = Symbol.for('message');

export interface BatchingTransportOptions {
  /** Append to this file; without it, standard output. */
  readonly file?: string;
  readonly flushMs?: number;
  readonly maxBytes?: number;
}

const URGENT = new Set(['error', 'warn']);

/** Transports with lines to write at exit (one process listener for all of them). */
const live = new Set<BatchingTransport>();
process.on('exit', () => {
  for (const t of live) t.flushSync();
});

export class BatchingTransport extends TransportStream {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private readonly flushMs: number;
  private readonly maxBytes: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(opts: BatchingTransportOptions = {}) {
    super();
    this.fd = opts.file ? fs.openSync(opts.file, 'a') : 1;
    this.ownsFd = opts.file !== undefined;
    this.flushMs = opts.flushMs ?? 100;
    this.maxBytes = opts.maxBytes ?? 64 * 1024;
    live.add(this);
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const line = `${String(info[MESSAGE])}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (URGENT.has(String(info.level)) || this.pendingBytes >= this.maxBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs).unref();
    next();
  }

  /** Write what is pending (in order after earlier writes); resolves once it is written. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const data = this.take();
    if (data === undefined) return this.writing;
    this.writing = this.writing.then(
      () =>
        new Promise<void>((resolve) => {
          fs.write(this.fd, data, (err) => {
            if (err) process.stderr.write(`log write failed: ${err.message}\n`);
            resolve();
          });
        }),
    );
    return this.writing;
  }

  override _final(callback: (error?: Error | null) => void): void {
    void this.flush().then(() => {
      live.delete(this);
      if (this.ownsFd) fs.closeSync(this.fd);
      callback();
    });
  }

  /** The pending lines as one string (undefined: none), now no longer pending. */
  private take(): string | undefined {
    if (this.pending.length === 0) return undefined;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    return data;
  }

  /** At exit: write what is pending synchronously. */
  flushSync(): void {
    const data = this.take();
    if (data === undefined) return;
    try {
      fs.writeSync(this.fd, data);
    } catch {
      /* exiting: nowhere left to report it */
    }
  }
}
