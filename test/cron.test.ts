import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronExpressionParser } from 'cron-parser';
import { Cron, nextRuns, validateCron } from '../src/cron.js';
import { ValidationError } from '../src/errors.js';

const iso = (d: Date[]) => d.map((x) => x.toISOString());

/** The reference: cron-parser itself, which BullMQ uses to compute job scheduler ticks. */
function reference(pattern: string, n: number, tz: string, from: Date): string[] {
  const e = CronExpressionParser.parse(pattern, { tz, currentDate: from });
  return Array.from({ length: n }, () => e.next().toDate().toISOString());
}

describe('cron builders', () => {
  const from = new Date('2026-01-14T10:17:23.000Z'); // a Wednesday

  it('build the expected patterns', () => {
    assert.equal(Cron.everySeconds(1), '* * * * * *');
    assert.equal(Cron.everySeconds(15), '*/15 * * * * *');
    assert.equal(Cron.everyMinutes(5), '*/5 * * * *');
    assert.equal(Cron.hourly(7), '7 * * * *');
    assert.equal(Cron.daily(9, 30), '30 9 * * *');
    assert.equal(Cron.weekly('monday', 8), '0 8 * * 1');
    assert.equal(Cron.monthly('last', 23, 59), '59 23 L * *');
    assert.equal(Cron.yearly(12, 25, 6), '0 6 25 12 *');
  });

  it('give the next run times cron-parser gives, in UTC and in a time zone', () => {
    const cases: [string, string][] = [
      [Cron.everySeconds(10), 'UTC'],
      [Cron.everyMinutes(15), 'UTC'],
      [Cron.hourly(45), 'Asia/Kolkata'],
      [Cron.daily(6, 5), 'America/New_York'],
      [Cron.weekly('friday', 17, 30), 'Europe/Paris'],
      [Cron.monthly(31, 12), 'UTC'],
      [Cron.monthly('last', 0, 0), 'Australia/Sydney'],
      [Cron.yearly(2, 29, 0, 0), 'UTC'],
    ];
    for (const [pattern, tz] of cases) {
      assert.deepEqual(iso(nextRuns(pattern, 6, tz, from)), reference(pattern, 6, tz, from), `${pattern} in ${tz}`);
    }
  });

  it('compute concrete times independently of the library', () => {
    assert.deepEqual(iso(nextRuns(Cron.everySeconds(15), 3, 'UTC', from)), [
      '2026-01-14T10:17:30.000Z',
      '2026-01-14T10:17:45.000Z',
      '2026-01-14T10:18:00.000Z',
    ]);
    assert.deepEqual(iso(nextRuns(Cron.weekly('monday', 8), 2, 'UTC', from)), [
      '2026-01-19T08:00:00.000Z',
      '2026-01-26T08:00:00.000Z',
    ]);
    // Months without a 31st are skipped; February 29 only in leap years (2028).
    assert.deepEqual(iso(nextRuns(Cron.monthly(31), 3, 'UTC', from)), [
      '2026-01-31T00:00:00.000Z',
      '2026-03-31T00:00:00.000Z',
      '2026-05-31T00:00:00.000Z',
    ]);
    assert.deepEqual(iso(nextRuns(Cron.yearly(2, 29), 1, 'UTC', from)), ['2028-02-29T00:00:00.000Z']);
  });

  it('keep local wall-clock time across a DST change (America/New_York, 8 March 2026)', () => {
    const runs = iso(nextRuns(Cron.daily(9, 0), 3, 'America/New_York', new Date('2026-03-06T20:00:00Z')));
    // 09:00 EST = 14:00Z before the change, 09:00 EDT = 13:00Z after it.
    assert.deepEqual(runs, ['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z']);
    assert.deepEqual(runs, reference(Cron.daily(9, 0), 3, 'America/New_York', new Date('2026-03-06T20:00:00Z')));
  });

  it('run a time that a DST change skips once, at the end of the gap (Europe/Paris, 29 March 2026, 02:30)', () => {
    // cron-parser alone says 03:30 CEST (01:30Z); the center's policy runs it at 03:00 CEST (01:00Z).
    const runs = iso(nextRuns(Cron.daily(2, 30), 4, 'Europe/Paris', new Date('2026-03-27T12:00:00Z')));
    assert.deepEqual(runs, ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
    // Hourly ticks through the autumn change: the repeated 02:00 runs once (00:00Z), then 03:00 CET.
    const autumn = iso(nextRuns(Cron.hourly(0), 4, 'Europe/Paris', new Date('2026-10-24T23:30:00Z')));
    assert.deepEqual(autumn, ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z', '2026-10-25T04:00:00.000Z']);
  });

  it('reject arguments that cannot make an exact pattern, saying what to use', () => {
    assert.throws(() => Cron.everySeconds(7), (e: Error) => e instanceof ValidationError && /every: 7000/.test(e.message));
    assert.throws(() => Cron.everyMinutes(0), /minutes to be an integer from 1 to 59/);
    assert.throws(() => Cron.daily(24), /hour to be an integer from 0 to 23/);
    assert.throws(() => Cron.monthly(32), /day to be an integer from 1 to 31/);
    assert.throws(() => Cron.weekly('someday' as 'monday'), /weekday/);
  });
});

describe('validateCron', () => {
  it('accepts 5- and 6-field patterns and time zones', () => {
    for (const p of ['* * * * *', '*/5 * * * *', '0 30 9 * * 1-5', '0 0 L * *', '0 0 * * 1#2', '0 0 ? * *']) {
      assert.doesNotThrow(() => validateCron(p, 'Europe/Paris'), p);
    }
  });

  it('rejects bad patterns with a ValidationError on field cron', () => {
    for (const p of ['', '   ', 'foo', '* * *', '* * * * * * *', '61 * * * *', '*/0 * * * *', '0 0 30 2 *', 'a'.repeat(300)]) {
      assert.throws(
        () => validateCron(p),
        (e: unknown) => e instanceof ValidationError && e.details[0]?.field === 'cron' && /Expected 5 fields/.test(e.message),
        JSON.stringify(p),
      );
    }
  });

  it('rejects unknown time zones on field tz', () => {
    assert.throws(
      () => validateCron('* * * * *', 'Mars/Olympus'),
      (e: unknown) => e instanceof ValidationError && e.details[0]?.field === 'tz',
    );
  });
});
