/**
 * Crash-safe file writes: the bytes go to a temporary name in the target's directory, are fsynced,
 * then renamed into place and the directory fsynced. A reader (or a crash) sees either no file or the
 * whole file, and a database row written afterwards never points at bytes that could still vanish.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface PendingFile {
  readonly path: string;
  readonly data: Uint8Array;
}

/** Create `dir` (and parents); returns the directories whose entries changed and need an fsync. */
async function ensureDir(dir: string): Promise<string[]> {
  const first = await fs.mkdir(dir, { recursive: true });
  if (first === undefined) return [];
  // Everything from the parent of the first new directory down to `dir` gained an entry.
  const changed: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    changed.push(d);
    if (d === first || path.dirname(d) === d) break;
  }
  changed.push(path.dirname(first));
  return changed;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeTemp(target: string, data: Uint8Array): Promise<string> {
  const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fs.open(temp, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fs.rm(temp, { force: true });
    throw e;
  }
  await fh.close();
  return temp;
}

/** Write several files durably; each directory is fsynced once, after all its renames. */
export async function writeFilesDurably(files: readonly PendingFile[]): Promise<void> {
  const dirsToSync = new Set<string>();
  for (const dir of new Set(files.map((f) => path.dirname(f.path)))) {
    for (const d of await ensureDir(dir)) dirsToSync.add(d);
    dirsToSync.add(dir);
  }
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemp(f.path, f.data));
    for (let i = 0; i < files.length; i++) await fs.rename(temps[i] as string, (files[i] as PendingFile).path);
  } catch (e) {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
    throw e;
  }
  // Children before parents, so a new directory's own entries are durable before it is.
  for (const d of [...dirsToSync].sort((a, b) => b.length - a.length)) await fsyncDir(d);
}

export function writeFileDurably(target: string, data: Uint8Array): Promise<void> {
  return writeFilesDurably([{ path: target, data }]);
}
