import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonObject } from '@hs/core';
import fc from 'fast-check';
import {
  CommandEncodeError,
  CommandParseError,
  encodeCommand,
  parseCommand,
  type ReplicationCommand,
} from '../src/commands.ts';

const examples: [ReplicationCommand, string][] = [
  [{ type: 'POSITION', stream: 'events', instance: 'main', prevToken: 53, newToken: 55 }, 'POSITION events main 53 55'],
  [
    { type: 'RDATA', stream: 'caches', instance: 'worker1', token: 7, prev: 5, rows: [{ cache: 'get_user', keys: ['@a:b c'] }] },
    'RDATA caches worker1 7 {"prev":5,"rows":[{"cache":"get_user","keys":["@a:b c"]}]}',
  ],
  [{ type: 'REPLICATE' }, 'REPLICATE'],
  [
    { type: 'USER_SYNC', instance: 'sync1', userId: '@alice:example.org', state: 'start', lastSyncMs: 1490197670513 },
    'USER_SYNC sync1 @alice:example.org start 1490197670513',
  ],
  [{ type: 'CLEAR_USER_SYNC', instance: 'sync1' }, 'CLEAR_USER_SYNC sync1'],
  [{ type: 'FEDERATION_ACK', instance: 'fed1', token: 12 }, 'FEDERATION_ACK fed1 12'],
  [{ type: 'REMOTE_SERVER_UP', server: 'matrix.org' }, 'REMOTE_SERVER_UP matrix.org'],
  [{ type: 'PING', instance: 'main' }, 'PING main'],
  [{ type: 'NAME', name: 'generic_worker1' }, 'NAME generic_worker1'],
];

describe('command codec', () => {
  test('encodes to the expected wire lines and parses them back', () => {
    for (const [cmd, line] of examples) {
      assert.equal(encodeCommand(cmd), line);
      assert.deepEqual(parseCommand(line), cmd);
    }
  });

  test('RDATA rows survive a round trip whatever their content (spaces, newlines, unicode)', () => {
    const word = fc.stringMatching(/^[a-z0-9_.@:!$-]{1,20}$/);
    const row = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 5 });
    fc.assert(
      fc.property(word, word, fc.nat(1000), fc.nat(1000), fc.array(row, { maxLength: 5 }), (stream, instance, a, b, rows) => {
        const cmd: ReplicationCommand = { type: 'RDATA', stream, instance, prev: a, token: a + b + 1, rows: rows as JsonObject[] };
        const line = encodeCommand(cmd);
        assert.ok(!line.includes('\n') && !line.includes('\r'));
        // JSON.parse normalises -0 to 0 and such; compare against the JSON view of the input.
        assert.deepEqual(parseCommand(line), JSON.parse(JSON.stringify(cmd)));
      }),
      { numRuns: 200 },
    );
  });

  test('rejects malformed lines with CommandParseError', () => {
    const bad = [
      '',
      ' ',
      'HELLO world',
      'position events main 1 2',
      'POSITION events main 1',
      'POSITION events main 1 2 3',
      'POSITION events main 3 2',
      'POSITION events main -1 2',
      'POSITION events main 01 2',
      'POSITION events main 1.5 2',
      'POSITION events main 1 99999999999999999999',
      'POSITION events  main 1 2',
      'POSITION events main 1 2 ',
      'REPLICATE ',
      'REPLICATE ALL',
      'PING',
      'PING a b',
      'PING a\nPING b',
      'RDATA events main 5',
      'RDATA events main 5 not-json',
      'RDATA events main 5 ["$foo:bar"]',
      'RDATA events main 5 {"rows":[]}',
      'RDATA events main 5 {"prev":5,"rows":[]}',
      'RDATA events main 5 {"prev":6,"rows":[]}',
      'RDATA events main 5 {"prev":"4","rows":[]}',
      'RDATA events main 5 {"prev":4,"rows":{}}',
      'RDATA events main 5 {"prev":4,"rows":[["positional","array"]]}',
      'RDATA events main 5 {"prev":4,"rows":[null]}',
      'RDATA events main batch {"prev":4,"rows":[]}',
      'USER_SYNC w @a:b maybe 5',
      'USER_SYNC w @a:b start',
      'FEDERATION_ACK w x',
      'CLEAR_USER_SYNC',
      'REMOTE_SERVER_UP',
      'NAME a\tb',
    ];
    for (const line of bad) {
      assert.throws(() => parseCommand(line), CommandParseError, `should reject ${JSON.stringify(line)}`);
    }
  });

  test('never throws anything but CommandParseError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom('RDATA a b 3 ', 'POSITION ', 'USER_SYNC ').chain((p) => fc.string().map((s) => p + s))), (line) => {
        try {
          parseCommand(line);
        } catch (e) {
          assert.ok(e instanceof CommandParseError, `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('parse errors keep a truncated copy of the line for the log', () => {
    const line = `RDATA events main 5 ${'x'.repeat(1000)}`;
    try {
      parseCommand(line);
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof CommandParseError);
      assert.ok(e.line.length <= 201);
    }
  });

  test('refuses to encode invalid commands', () => {
    const bad: unknown[] = [
      { type: 'POSITION', stream: 'events', instance: 'main', prevToken: 3, newToken: 2 },
      { type: 'POSITION', stream: 'ev ents', instance: 'main', prevToken: 1, newToken: 2 },
      { type: 'POSITION', stream: 'events', instance: '', prevToken: 1, newToken: 2 },
      { type: 'RDATA', stream: 'events', instance: 'main', token: 2, prev: 2, rows: [] },
      { type: 'RDATA', stream: 'events', instance: 'main', token: 2, prev: 1, rows: [[1, 2]] },
      { type: 'RDATA', stream: 'events', instance: 'main', token: 1.5, prev: 1, rows: [] },
      { type: 'USER_SYNC', instance: 'w', userId: '@a:b', state: 'maybe', lastSyncMs: 1 },
      { type: 'FEDERATION_ACK', instance: 'w', token: -1 },
      { type: 'NOPE' },
    ];
    for (const cmd of bad) {
      assert.throws(() => encodeCommand(cmd as ReplicationCommand), CommandEncodeError, JSON.stringify(cmd));
    }
  });
});
