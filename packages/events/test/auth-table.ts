/** Runs a table of auth cases against every room version it applies to. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAuthRules } from '../src/auth-rules.ts';
import type { AuthCase } from './auth-fixtures.ts';
import { ALL_VERSIONS } from './auth-fixtures.ts';

export function runAuthTable(title: string, cases: readonly AuthCase[]): void {
  describe(title, () => {
    for (const c of cases) {
      for (const v of ALL_VERSIONS) {
        if (c.when && !c.when(v)) continue;
        const want = typeof c.expect === 'function' ? c.expect(v) : c.expect;
        test(`${c.name} [v${v.id}] → ${want}`, () => {
          const { event, state } = c.build(v);
          const res = checkAuthRules(v, event, state);
          if (want === 'allow') assert.deepEqual(res, { allowed: true });
          else {
            assert.equal(res.allowed, false, 'expected a denial');
            assert.ok(!res.allowed && res.reason.length > 0);
            if (c.reason && c.expect === 'deny') assert.match(res.reason, c.reason);
            if (process.env['AUTH_DEBUG']) console.log(`DENY ${c.name} [v${v.id}]: ${res.reason}`);
          }
        });
      }
    }
  });
}
