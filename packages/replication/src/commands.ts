/**
 * The replication command codec: one command per text line, in the spirit of Synapse's TCP replication
 * protocol (`POSITION`, `RDATA`, `REPLICATE`, …). Parsing is strict because lines arrive from other
 * processes over a shared channel: anything malformed becomes a CommandParseError that the bus logs and
 * drops, never an exception that takes a process down.
 *
 * Our RDATA differs from Synapse's: it carries one batch per (stream, writer, token) as
 * `{"prev": <previous announced position of that writer>, "rows": [{…named fields…}, …]}`, so a
 * follower can tell at once whether it missed something (pub/sub is lossy).
 */
import type { JsonObject } from '@hs/core';
import { isJsonObject } from '@hs/core';

/** A stream row: always a JSON object with named fields, never a positional array. */
export type StreamRow = JsonObject;

/** A writer announces that its position on `stream` moved to `newToken`; it has written no rows after `prevToken`. */
export interface PositionCommand {
  readonly type: 'POSITION';
  readonly stream: string;
  readonly instance: string;
  readonly prevToken: number;
  readonly newToken: number;
}

/** The rows `instance` wrote to `stream` in the position range (prev, token]. */
export interface RdataCommand {
  readonly type: 'RDATA';
  readonly stream: string;
  readonly instance: string;
  readonly token: number;
  readonly prev: number;
  readonly rows: readonly StreamRow[];
}

/** Asks every writer to announce its position on every stream it writes. */
export interface ReplicateCommand {
  readonly type: 'REPLICATE';
}

export interface UserSyncCommand {
  readonly type: 'USER_SYNC';
  readonly instance: string;
  readonly userId: string;
  readonly state: 'start' | 'end';
  readonly lastSyncMs: number;
}

export interface ClearUserSyncCommand {
  readonly type: 'CLEAR_USER_SYNC';
  readonly instance: string;
}

export interface FederationAckCommand {
  readonly type: 'FEDERATION_ACK';
  readonly instance: string;
  readonly token: number;
}

export interface RemoteServerUpCommand {
  readonly type: 'REMOTE_SERVER_UP';
  readonly server: string;
}

export interface PingCommand {
  readonly type: 'PING';
  readonly instance: string;
}

/** Identifies the sender; useful in logs when watching the channel by hand. */
export interface NameCommand {
  readonly type: 'NAME';
  readonly name: string;
}

export type ReplicationCommand =
  | PositionCommand
  | RdataCommand
  | ReplicateCommand
  | UserSyncCommand
  | ClearUserSyncCommand
  | FederationAckCommand
  | RemoteServerUpCommand
  | PingCommand
  | NameCommand;

export type CommandType = ReplicationCommand['type'];

export const COMMAND_TYPES: readonly CommandType[] = [
  'POSITION',
  'RDATA',
  'REPLICATE',
  'USER_SYNC',
  'CLEAR_USER_SYNC',
  'FEDERATION_ACK',
  'REMOTE_SERVER_UP',
  'PING',
  'NAME',
];

/** A line that is not a well-formed command. `line` is truncated so a huge bad line cannot flood the log. */
export class CommandParseError extends Error {
  readonly line: string;
  constructor(message: string, line: string) {
    super(message);
    this.name = 'CommandParseError';
    this.line = line.length > 200 ? `${line.slice(0, 200)}…` : line;
  }
}

/** A command object that cannot be put on the wire (a bug in the sender). */
export class CommandEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandEncodeError';
  }
}

// Names, instance names, user IDs and server names: printable, no whitespace, no control characters.
const WORD = /^[^\s\p{Cc}]+$/u;
const TOKEN = /^(?:0|[1-9][0-9]*)$/;

function isWord(value: unknown): value is string {
  return typeof value === 'string' && WORD.test(value);
}

function isToken(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function requireWord(value: unknown, what: string): string {
  if (!isWord(value)) throw new CommandEncodeError(`${what} must be a non-empty string without whitespace`);
  return value;
}

function requireToken(value: unknown, what: string): string {
  if (!isToken(value)) throw new CommandEncodeError(`${what} must be a non-negative safe integer`);
  return String(value);
}

/** Serialises a command to its single-line wire form. Throws CommandEncodeError on an invalid command. */
export function encodeCommand(cmd: ReplicationCommand): string {
  switch (cmd.type) {
    case 'POSITION': {
      if (isToken(cmd.prevToken) && isToken(cmd.newToken) && cmd.prevToken > cmd.newToken) {
        throw new CommandEncodeError('POSITION prev must not exceed new');
      }
      return [
        'POSITION',
        requireWord(cmd.stream, 'stream'),
        requireWord(cmd.instance, 'instance'),
        requireToken(cmd.prevToken, 'prev'),
        requireToken(cmd.newToken, 'new'),
      ].join(' ');
    }
    case 'RDATA': {
      const token = requireToken(cmd.token, 'token');
      requireToken(cmd.prev, 'prev');
      if (cmd.prev >= cmd.token) throw new CommandEncodeError('RDATA prev must be below token');
      if (!Array.isArray(cmd.rows) || !cmd.rows.every(isJsonObject)) {
        throw new CommandEncodeError('RDATA rows must be JSON objects');
      }
      // JSON.stringify escapes control characters inside strings, so the line stays a single line.
      const json = JSON.stringify({ prev: cmd.prev, rows: cmd.rows });
      return `RDATA ${requireWord(cmd.stream, 'stream')} ${requireWord(cmd.instance, 'instance')} ${token} ${json}`;
    }
    case 'REPLICATE':
      return 'REPLICATE';
    case 'USER_SYNC': {
      if (cmd.state !== 'start' && cmd.state !== 'end') throw new CommandEncodeError('USER_SYNC state must be start|end');
      return [
        'USER_SYNC',
        requireWord(cmd.instance, 'instance'),
        requireWord(cmd.userId, 'user_id'),
        cmd.state,
        requireToken(cmd.lastSyncMs, 'last_sync_ms'),
      ].join(' ');
    }
    case 'CLEAR_USER_SYNC':
      return `CLEAR_USER_SYNC ${requireWord(cmd.instance, 'instance')}`;
    case 'FEDERATION_ACK':
      return `FEDERATION_ACK ${requireWord(cmd.instance, 'instance')} ${requireToken(cmd.token, 'token')}`;
    case 'REMOTE_SERVER_UP':
      return `REMOTE_SERVER_UP ${requireWord(cmd.server, 'server')}`;
    case 'PING':
      return `PING ${requireWord(cmd.instance, 'instance')}`;
    case 'NAME':
      return `NAME ${requireWord(cmd.name, 'name')}`;
    default: {
      const unknown: { type?: unknown } = cmd;
      throw new CommandEncodeError(`unknown command type ${String(unknown.type)}`);
    }
  }
}

function parseToken(field: string | undefined, what: string, line: string): number {
  if (field === undefined || !TOKEN.test(field)) throw new CommandParseError(`${what} is not a non-negative integer`, line);
  const value = Number(field);
  if (!Number.isSafeInteger(value)) throw new CommandParseError(`${what} is out of range`, line);
  return value;
}

function parseWord(field: string | undefined, what: string, line: string): string {
  if (field === undefined || !WORD.test(field)) throw new CommandParseError(`${what} is missing or malformed`, line);
  return field;
}

/** Splits `rest` into exactly `count` single-space separated fields. */
function fields(rest: string, count: number, name: string, line: string): string[] {
  const parts = rest === '' ? [] : rest.split(' ');
  if (parts.length !== count) throw new CommandParseError(`${name} takes ${count} argument(s), got ${parts.length}`, line);
  return parts;
}

function parseRdata(rest: string, line: string): RdataCommand {
  // RDATA <stream> <instance> <token> <json>: the JSON may itself contain spaces.
  const m = /^(\S+) (\S+) (\S+) (.+)$/s.exec(rest);
  if (m === null) throw new CommandParseError('RDATA takes <stream> <instance> <token> <json>', line);
  const stream = parseWord(m[1], 'stream', line);
  const instance = parseWord(m[2], 'instance', line);
  const token = parseToken(m[3], 'token', line);
  let body: unknown;
  try {
    body = JSON.parse(m[4] ?? '');
  } catch {
    throw new CommandParseError('RDATA body is not valid JSON', line);
  }
  if (!isJsonObject(body)) throw new CommandParseError('RDATA body must be a JSON object', line);
  const prev = body['prev'];
  const rows = body['rows'];
  if (!isToken(prev)) throw new CommandParseError('RDATA prev must be a non-negative integer', line);
  if (prev >= token) throw new CommandParseError('RDATA prev must be below token', line);
  if (!Array.isArray(rows)) throw new CommandParseError('RDATA rows must be an array', line);
  for (const row of rows) {
    if (!isJsonObject(row)) throw new CommandParseError('RDATA rows must be JSON objects with named fields', line);
  }
  return { type: 'RDATA', stream, instance, token, prev, rows: rows as JsonObject[] };
}

/** Parses one wire line. Throws CommandParseError (and only that) on anything malformed. */
export function parseCommand(line: string): ReplicationCommand {
  if (typeof line !== 'string') throw new CommandParseError('command is not a string', String(line));
  if (/[\r\n]/.test(line)) throw new CommandParseError('command contains a line break', line);
  const space = line.indexOf(' ');
  const name = space === -1 ? line : line.slice(0, space);
  const rest = space === -1 ? '' : line.slice(space + 1);
  if (space !== -1 && rest === '') throw new CommandParseError('trailing space', line);
  switch (name) {
    case 'POSITION': {
      const [stream, instance, prev, next] = fields(rest, 4, name, line);
      const prevToken = parseToken(prev, 'prev', line);
      const newToken = parseToken(next, 'new', line);
      if (prevToken > newToken) throw new CommandParseError('POSITION prev exceeds new', line);
      return {
        type: 'POSITION',
        stream: parseWord(stream, 'stream', line),
        instance: parseWord(instance, 'instance', line),
        prevToken,
        newToken,
      };
    }
    case 'RDATA':
      return parseRdata(rest, line);
    case 'REPLICATE':
      fields(rest, 0, name, line);
      return { type: 'REPLICATE' };
    case 'USER_SYNC': {
      const [instance, userId, state, lastSync] = fields(rest, 4, name, line);
      if (state !== 'start' && state !== 'end') throw new CommandParseError('USER_SYNC state must be start|end', line);
      return {
        type: 'USER_SYNC',
        instance: parseWord(instance, 'instance', line),
        userId: parseWord(userId, 'user_id', line),
        state,
        lastSyncMs: parseToken(lastSync, 'last_sync_ms', line),
      };
    }
    case 'CLEAR_USER_SYNC': {
      const [instance] = fields(rest, 1, name, line);
      return { type: 'CLEAR_USER_SYNC', instance: parseWord(instance, 'instance', line) };
    }
    case 'FEDERATION_ACK': {
      const [instance, token] = fields(rest, 2, name, line);
      return {
        type: 'FEDERATION_ACK',
        instance: parseWord(instance, 'instance', line),
        token: parseToken(token, 'token', line),
      };
    }
    case 'REMOTE_SERVER_UP': {
      const [server] = fields(rest, 1, name, line);
      return { type: 'REMOTE_SERVER_UP', server: parseWord(server, 'server', line) };
    }
    case 'PING': {
      const [instance] = fields(rest, 1, name, line);
      return { type: 'PING', instance: parseWord(instance, 'instance', line) };
    }
    case 'NAME': {
      const [n] = fields(rest, 1, name, line);
      return { type: 'NAME', name: parseWord(n, 'name', line) };
    }
    default:
      throw new CommandParseError(`unknown command ${JSON.stringify(name.slice(0, 40))}`, line);
  }
}
