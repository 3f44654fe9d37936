/** State resolution v1 (room v1): depth / sha1(event_id) ordering and the pass structure. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { RoomVersion } from '../src/room-versions.ts';
import type { NodeSpec } from './state-res-fixtures.ts';
import { ALICE, BOB, CHARLIE, EVELYN, JR, MEMBER, PL, TOPIC, buildDag, endStateVsExpected, id, member, plContent, rv } from './state-res-fixtures.ts';

const V1: RoomVersion = rv('1');
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const topic = (nodeId: string, sender: string): NodeSpec => ({ id: nodeId, type: TOPIC, sender, state_key: '', content: { topic: nodeId } });
const pl = (nodeId: string, sender: string, users: Record<string, number>): NodeSpec => ({
  id: nodeId,
  type: PL,
  sender,
  state_key: '',
  content: plContent(V1, users),
});
const msg = (nodeId: string): NodeSpec => ({ id: nodeId, type: 'm.room.message', sender: ALICE, content: {} });

function endState(nodes: NodeSpec[], edges: string[][], expected: string[]) {
  return endStateVsExpected(buildDag(V1, nodes, edges), expected);
}

describe('state resolution v1', () => {
  it('picks the ordinary event with the greatest depth', () => {
    const [actual, expected] = endState(
      [topic('TA', ALICE), msg('M'), topic('TB', ALICE)],
      [
        ['END', 'TA', 'START'],
        ['END', 'TB', 'M', 'START'],
      ],
      ['TB'],
    );
    assert.deepEqual(actual, expected);
  });

  it('breaks depth ties by the smallest sha1 of the event ID', () => {
    // The name sorting later gets the smaller hash, so neither ID order nor timestamps decide.
    const [low] = [id('TB'), id('TC')].sort((a, b) => (sha1(a) < sha1(b) ? -1 : 1));
    assert.equal(low, id('TC'), 'fixture assumption: sha1($TC) < sha1($TB)');
    const [actual, expected] = endState(
      [topic('TB', ALICE), topic('TC', ALICE)],
      [
        ['END', 'TB', 'START'],
        ['END', 'TC', 'START'],
      ],
      ['TC'],
    );
    assert.deepEqual(actual, expected);
  });

  it('skips ordinary events that fail auth, and keeps the lowest when none passes', () => {
    // Charlie (level 0) cannot set the topic, so Alice's shallower one wins.
    let [actual, expected] = endState(
      [topic('TA', ALICE), msg('M'), topic('TC', CHARLIE)],
      [
        ['END', 'TA', 'START'],
        ['END', 'TC', 'M', 'START'],
      ],
      ['TA'],
    );
    assert.deepEqual(actual, expected);
    [actual, expected] = endState(
      [topic('TC1', CHARLIE), msg('M'), topic('TC2', CHARLIE)],
      [
        ['END', 'TC1', 'START'],
        ['END', 'TC2', 'M', 'START'],
      ],
      ['TC1'],
    );
    assert.deepEqual(actual, expected);
  });

  it('takes successive power levels in ascending depth while they pass auth', () => {
    // PB (deeper, Bob promoting Charlie) passes on top of PA, which made Bob a moderator.
    let [actual, expected] = endState(
      [pl('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }), msg('M'), pl('PB', BOB, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }), topic('T', ALICE)],
      [
        ['END', 'PB', 'M', 'PA', 'START'],
        ['END', 'T', 'PA'],
      ],
      ['PB', 'T'],
    );
    assert.deepEqual(actual, expected);
    // PX (shallower, Alice demoting Bob) is taken first, so Bob's deeper PB then fails.
    [actual, expected] = endState(
      [pl('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }), pl('PX', ALICE, { [ALICE]: 100, [BOB]: 0 }), msg('M'), pl('PB', BOB, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 })],
      [
        ['END', 'PX', 'PA', 'START'],
        ['END', 'PB', 'M', 'PA'],
      ],
      ['PX'],
    );
    assert.deepEqual(actual, expected);
  });

  it('lets a join evade new join rules (a known v1 flaw that v2 fixes)', () => {
    const nodes: NodeSpec[] = [
      { id: 'JR', type: JR, sender: ALICE, state_key: '', content: { join_rule: 'invite' } },
      member('ME', EVELYN, EVELYN, 'join'),
    ];
    const edges = [
      ['END', 'JR', 'START'],
      ['END', 'ME', 'START'],
    ];
    // Evelyn's membership is only in one state set, so v1 sees no conflict for it.
    const [actual, expected] = endState(nodes, edges, ['JR', 'ME']);
    assert.deepEqual(actual, expected);
    const [v2actual, v2expected] = endStateVsExpected(buildDag(rv('2'), nodes, edges), ['JR']);
    assert.deepEqual(v2actual, v2expected);
  });

  it('resolves each pass against the state from before the pass', () => {
    // Alice re-joins on the banning fork, so her membership is conflicted too: while the power
    // levels are resolved neither Alice nor Bob has a membership in R, so Bob's PB fails; and
    // while memberships are resolved Alice's is not in R yet, so her ban of Bob fails as well.
    const nodes: NodeSpec[] = [
      pl('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
      member('MA', ALICE, ALICE, 'join'),
      member('MB', ALICE, BOB, 'ban'),
      pl('PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
    ];
    const [actual, expected] = endState(
      nodes,
      [
        ['END', 'MB', 'MA', 'PA', 'START'],
        ['END', 'PB', 'PA'],
      ],
      ['PA', 'MA', 'IMB'],
    );
    assert.deepEqual(actual, expected);
    assert.equal(actual[`${MEMBER}|${BOB}`], id('IMB'));
  });
});
