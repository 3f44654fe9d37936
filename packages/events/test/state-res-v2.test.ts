/**
 * State resolution v2 on the classic scenarios (the ones Synapse's and ruma's suites use):
 * each builds a small DAG forking after START and merging at END, and checks the state at END.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoomVersion } from '../src/room-versions.ts';
import type { NodeSpec } from './state-res-fixtures.ts';
import {
  ALICE,
  BOB,
  CHARLIE,
  EVELYN,
  JR,
  PL,
  TOPIC,
  V11_WITH_V21,
  ZARA,
  buildDag,
  endStateVsExpected,
  member,
  plContent,
  rv,
} from './state-res-fixtures.ts';

const pl = (version: RoomVersion, nodeId: string, sender: string, users: Record<string, number>, extra = {}): NodeSpec => ({
  id: nodeId,
  type: PL,
  sender,
  state_key: '',
  content: plContent(version, users, extra),
});
const topic = (nodeId: string, sender: string): NodeSpec => ({ id: nodeId, type: TOPIC, sender, state_key: '', content: { topic: nodeId } });

interface Scenario {
  readonly name: string;
  readonly nodes: (v: RoomVersion) => NodeSpec[];
  readonly edges: string[][];
  /** Node names whose events make up the state at END, besides what START already had. */
  readonly expected: string[];
}

const SCENARIOS: Scenario[] = [
  {
    // Bob, a moderator, changes power levels while Alice bans him: the ban wins because it
    // is ordered first (Alice has more power) and then Bob's change fails auth.
    name: 'ban vs power levels race',
    nodes: (v) => [
      pl(v, 'PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
      member('MA', ALICE, ALICE, 'join'),
      member('MB', ALICE, BOB, 'ban'),
      pl(v, 'PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
    ],
    edges: [
      ['END', 'MB', 'MA', 'PA', 'START'],
      ['END', 'PB', 'PA'],
    ],
    expected: ['PA', 'MA', 'MB'],
  },
  {
    // Evelyn joins on a fork that has not seen the room become invite-only.
    name: 'join rules evasion',
    nodes: () => [
      { id: 'JR', type: JR, sender: ALICE, state_key: '', content: { join_rule: 'invite' } },
      member('ME', EVELYN, EVELYN, 'join'),
    ],
    edges: [
      ['END', 'JR', 'START'],
      ['END', 'ME', 'START'],
    ],
    expected: ['JR'],
  },
  {
    // A chain of power level changes against its own first link: the chain survives.
    name: 'off-topic power levels chain',
    nodes: (v) => [
      pl(v, 'PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
      pl(v, 'PB', BOB, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }),
      pl(v, 'PC', CHARLIE, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 }),
    ],
    edges: [
      ['END', 'PC', 'PB', 'PA', 'START'],
      ['END', 'PA'],
    ],
    expected: ['PC'],
  },
  {
    // Alice demotes Bob while Bob sets power levels and a topic on his own fork.
    name: 'topic basic',
    nodes: (v) => [
      topic('T1', ALICE),
      pl(v, 'PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }),
      topic('T2', ALICE),
      pl(v, 'PA2', ALICE, { [ALICE]: 100, [BOB]: 0 }),
      pl(v, 'PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
      topic('T3', BOB),
    ],
    edges: [
      ['END', 'PA2', 'T2', 'PA1', 'T1', 'START'],
      ['END', 'T3', 'PB', 'PA1'],
    ],
    expected: ['PA2', 'T2'],
  },
  {
    // A banned user's topic must not survive a merge with a fork from before the ban.
    name: 'topic reset',
    nodes: (v) => [
      topic('T1', ALICE),
      pl(v, 'PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
      topic('T2', BOB),
      member('MB', ALICE, BOB, 'ban'),
    ],
    edges: [
      ['END', 'MB', 'T2', 'PA', 'T1', 'START'],
      ['END', 'T1'],
    ],
    expected: ['T1', 'MB', 'PA'],
  },
  {
    name: 'topic with an intermediate merge',
    nodes: (v) => [
      topic('T1', ALICE),
      pl(v, 'PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }),
      topic('T2', ALICE),
      pl(v, 'PA2', ALICE, { [ALICE]: 100, [BOB]: 0 }),
      pl(v, 'PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
      topic('T3', BOB),
      { id: 'MZ1', type: 'm.room.message', sender: ZARA, content: {} },
      topic('T4', ALICE),
    ],
    edges: [
      ['END', 'T4', 'MZ1', 'PA2', 'T2', 'PA1', 'T1', 'START'],
      ['END', 'MZ1', 'T3', 'PB', 'PA1'],
    ],
    expected: ['T4', 'PA2'],
  },
  {
    // T4 is newer than T3 but cites older power levels, so mainline ordering applies it first.
    name: 'mainline ordering',
    nodes: (v) => [
      topic('T1', ALICE),
      pl(v, 'PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }),
      topic('T2', ALICE),
      pl(v, 'PA2', ALICE, { [ALICE]: 100, [BOB]: 50 }, { events: { [PL]: 100 } }),
      pl(v, 'PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
      topic('T3', BOB),
      topic('T4', ALICE),
    ],
    edges: [
      ['END', 'T3', 'PA2', 'T2', 'PA1', 'T1', 'START'],
      ['END', 'T4', 'PB', 'PA1'],
    ],
    expected: ['T3', 'PA2'],
  },
];

for (const version of [rv('2'), rv('6'), rv('10'), rv('11'), V11_WITH_V21, rv('12')]) {
  describe(`state resolution scenarios, room version ${version.id}`, () => {
    for (const s of SCENARIOS) {
      it(s.name, () => {
        const dag = buildDag(version, s.nodes(version), s.edges);
        const [actual, expected] = endStateVsExpected(dag, s.expected);
        assert.deepEqual(actual, expected);
      });
    }
  });
}
