/**
 * Streaming a stored file to the client without buffering it: open first (a missing file is a 404,
 * not a half-sent response), take the length from the open descriptor, then pipe. A client that goes
 * away mid-transfer just stops the stream; a read error after the headers went out can only cut the
 * connection, which is what the client then sees.
 */
import fs from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Logger } from '@hs/core';

/** Send `file` with `headers` (plus Content-Length); resolves false when the file does not exist. */
export async function sendFile(req: Request, res: Response, file: string, headers: Record<string, string>, log: Logger): Promise<boolean> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) return false;
    // setHeader, not express's res.set: that one rewrites Content-Type through a MIME lookup.
    res.statusCode = 200;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('Content-Length', String(stat.size));
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    const stream = fh.createReadStream({ autoClose: false });
    try {
      await pipeline(stream, res);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code !== 'ERR_STREAM_PREMATURE_CLOSE') log.warn('media file stream failed', { file, error: (e as Error).message });
      res.destroy();
    }
    return true;
  } finally {
    await fh.close().catch(() => {});
  }
}

/** A conditional request for media we know the client may see: 304, no body. */
export function isNotModified(req: Request, etag: string): boolean {
  return req.headers['if-none-match'] === etag;
}
