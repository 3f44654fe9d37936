/**
 * Events built+signed per second and events verified (format, signatures, content hash) per
 * second, for room versions 12 and 10. Run: node packages/events/bench/events.bench.ts [count]
 */
import { buildEvent } from '../src/build-event.ts';
import type { BuiltEvent } from '../src/build-event.ts';
import { getRoomVersion } from '../src/room-versions.ts';
import { keyPairFromSeed } from '../src/signing.ts';
import { verifyEvent } from '../src/verify-event.ts';

const COUNT = Number(process.argv[2] ?? 3000);
const keys = keyPairFromSeed(new Uint8Array(32).fill(9));
const lookup = (server: string, keyId: string) => (server === 'bench.example' && keyId === 'ed25519:b' ? keys.publicKey : undefined);

function build(versionId: string, i: number): BuiltEvent {
  const rv = getRoomVersion(versionId)!;
  return buildEvent({
    roomVersion: rv,
    roomId: '!Peb6jqBYLNdyaT0lXdvyjCpnvZauVDBvGH_8-ybEFXA',
    sender: '@user:bench.example',
    type: 'm.room.message',
    content: { msgtype: 'm.text', body: `message number ${i} with a little text in it, ünïcödé and 😀`, 'm.mentions': {} },
    prevEvents: ['$Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ'],
    authEvents: ['$AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde', '$ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210_-edcba'],
    depth: 1000 + i,
    originServerTs: 1_700_000_000_000 + i,
    serverName: 'bench.example',
    keyId: 'ed25519:b',
    secretKey: keys.secretKey,
  });
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
}

for (const versionId of ['12', '10']) {
  const rv = getRoomVersion(versionId)!;
  for (let i = 0; i < 200; i++) verifyEvent(build(versionId, i).pdu, rv, lookup); // warm up

  let t0 = performance.now();
  const built: BuiltEvent[] = [];
  for (let i = 0; i < COUNT; i++) built.push(build(versionId, i));
  const buildMs = performance.now() - t0;

  t0 = performance.now();
  let ok = 0;
  for (const { pdu } of built) if (verifyEvent(pdu, rv, lookup).ok) ok++;
  const verifyMs = performance.now() - t0;
  if (ok !== COUNT) throw new Error(`only ${ok}/${COUNT} verified`);

  console.log(
    `room v${versionId}: built+signed ${rate(COUNT, buildMs)}, verified (format+signature+hash) ${rate(COUNT, verifyMs)} over ${COUNT} events`,
  );
}
