import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronExpressionParser } from 'cron-parser';
import { nextRuns, validateCron, type DstPolicy } from '../src/cron.js';
import { describeSchedule } from '../src/cron/describe.js';
import { ValidationError } from '../src/errors.js';

/*
 * The DST policy on real 2027 transitions, with every expected instant written out by hand:
 * - Europe/Paris: 28 March 02:00 CET → 03:00 CEST (01:00Z); 31 October 03:00 CEST → 02:00 CET (01:00Z).
 * - America/New_York: 14 March 02:00 EST → 03:00 EDT (07:00Z); 7 November 02:00 EDT → 01:00 EST (06:00Z).
 * - Australia/Sydney: 4 April 03:00 AEDT → 02:00 AEST (3 April 16:00Z); 3 October 02:00 AEST → 03:00 AEDT (2 October 16:00Z).
 * - Australia/Lord_Howe (30-minute shift): 4 April 02:00 +11 → 01:30 +10:30 (3 April 15:00Z);
 *   3 October 02:00 +10:30 → 02:30 +11 (2 October 15:30Z).
 * - Asia/Kolkata: +05:30 all year.
 */

function runs(pattern: string, tz: string, from: string, n: number, dst?: DstPolicy): string[] {
  return nextRuns(pattern, n, tz, new Date(from), { dst }).map((d) => d.toISOString().replace(':00.000Z', 'Z'));
}

describe('DST policy: Europe/Paris', () => {
  it('daily 02:30 on the spring-forward night runs once at 03:00 CEST, or not at all with gap: skip', () => {
    assert.deepEqual(runs('30 2 * * *', 'Europe/Paris', '2027-03-26T12:00:00Z', 4), [
      '2027-03-27T01:30Z', // 02:30 CET
      '2027-03-28T01:00Z', // 02:30 does not exist: 03:00 CEST, the first valid instant after it
      '2027-03-29T00:30Z', // 02:30 CEST
      '2027-03-30T00:30Z',
    ]);
    assert.deepEqual(runs('30 2 * * *', 'Europe/Paris', '2027-03-26T12:00:00Z', 3, { gap: 'skip' }), [
      '2027-03-27T01:30Z',
      '2027-03-29T00:30Z',
      '2027-03-30T00:30Z',
    ]);
  });

  it('daily 02:30 on the fall-back night runs at the first 02:30 (CEST), or at both with overlap: both', () => {
    assert.deepEqual(runs('30 2 * * *', 'Europe/Paris', '2027-10-29T12:00:00Z', 3), [
      '2027-10-30T00:30Z',
      '2027-10-31T00:30Z', // 02:30 CEST; 02:30 CET (01:30Z) is not run
      '2027-11-01T01:30Z',
    ]);
    assert.deepEqual(runs('30 2 * * *', 'Europe/Paris', '2027-10-29T12:00:00Z', 4, { overlap: 'both' }), [
      '2027-10-30T00:30Z',
      '2027-10-31T00:30Z',
      '2027-10-31T01:30Z',
      '2027-11-01T01:30Z',
    ]);
  });

  it('hourly at :30 across spring forward; hourly at :00 across fall back', () => {
    assert.deepEqual(runs('30 * * * *', 'Europe/Paris', '2027-03-27T23:45:00Z', 3), [
      '2027-03-28T00:30Z', // 01:30 CET
      '2027-03-28T01:00Z', // 02:30 skipped by the clock: 03:00 CEST
      '2027-03-28T01:30Z', // 03:30 CEST
    ]);
    assert.deepEqual(runs('30 * * * *', 'Europe/Paris', '2027-03-27T23:45:00Z', 3, { gap: 'skip' }), [
      '2027-03-28T00:30Z',
      '2027-03-28T01:30Z',
      '2027-03-28T02:30Z',
    ]);
    assert.deepEqual(runs('0 * * * *', 'Europe/Paris', '2027-10-30T22:30:00Z', 4), [
      '2027-10-30T23:00Z', // 01:00 CEST
      '2027-10-31T00:00Z', // 02:00 CEST
      '2027-10-31T02:00Z', // 03:00 CET: the second 02:00 (01:00Z) is not run
      '2027-10-31T03:00Z',
    ]);
    assert.deepEqual(runs('0 * * * *', 'Europe/Paris', '2027-10-30T22:30:00Z', 4, { overlap: 'both' }), [
      '2027-10-30T23:00Z',
      '2027-10-31T00:00Z',
      '2027-10-31T01:00Z',
      '2027-10-31T02:00Z',
    ]);
  });

  it('every 15 minutes: the skipped hour collapses into one run at 03:00; the repeated hour runs once or twice', () => {
    assert.deepEqual(runs('*/15 * * * *', 'Europe/Paris', '2027-03-28T00:40:00Z', 3), [
      '2027-03-28T00:45Z', // 01:45 CET
      '2027-03-28T01:00Z', // 02:00, 02:15, 02:30, 02:45 and 03:00 CEST: one run
      '2027-03-28T01:15Z',
    ]);
    assert.deepEqual(runs('*/15 * * * *', 'Europe/Paris', '2027-10-31T00:20:00Z', 4), [
      '2027-10-31T00:30Z',
      '2027-10-31T00:45Z',
      '2027-10-31T02:00Z', // 03:00 CET
      '2027-10-31T02:15Z',
    ]);
    assert.deepEqual(runs('*/15 * * * *', 'Europe/Paris', '2027-10-31T00:20:00Z', 6, { overlap: 'both' }), [
      '2027-10-31T00:30Z',
      '2027-10-31T00:45Z',
      '2027-10-31T01:00Z', // 02:00 CET
      '2027-10-31T01:15Z',
      '2027-10-31T01:30Z',
      '2027-10-31T01:45Z',
    ]);
  });
});

describe('DST policy: America/New_York', () => {
  it('daily 02:30 in March, daily 01:30 in November', () => {
    assert.deepEqual(runs('30 2 * * *', 'America/New_York', '2027-03-12T12:00:00Z', 3), [
      '2027-03-13T07:30Z', // 02:30 EST
      '2027-03-14T07:00Z', // 03:00 EDT
      '2027-03-15T06:30Z', // 02:30 EDT
    ]);
    assert.deepEqual(runs('30 1 * * *', 'America/New_York', '2027-11-05T12:00:00Z', 3), [
      '2027-11-06T05:30Z',
      '2027-11-07T05:30Z', // 01:30 EDT, the first of two
      '2027-11-08T06:30Z', // 01:30 EST
    ]);
    assert.deepEqual(runs('30 1 * * *', 'America/New_York', '2027-11-05T12:00:00Z', 4, { overlap: 'both' }), [
      '2027-11-06T05:30Z',
      '2027-11-07T05:30Z',
      '2027-11-07T06:30Z',
      '2027-11-08T06:30Z',
    ]);
  });

  it('every 15 minutes and hourly across spring forward', () => {
    assert.deepEqual(runs('*/15 * * * *', 'America/New_York', '2027-03-14T06:40:00Z', 3), [
      '2027-03-14T06:45Z', // 01:45 EST
      '2027-03-14T07:00Z', // 03:00 EDT
      '2027-03-14T07:15Z',
    ]);
    assert.deepEqual(runs('0 * * * *', 'America/New_York', '2027-11-07T04:30:00Z', 3), [
      '2027-11-07T05:00Z', // 01:00 EDT
      '2027-11-07T07:00Z', // 02:00 EST: 01:00 EST (06:00Z) is the repeated hour
      '2027-11-07T08:00Z',
    ]);
  });
});

describe('DST policy: Australia/Sydney', () => {
  it('daily 02:30 on both nights of 2027', () => {
    assert.deepEqual(runs('30 2 * * *', 'Australia/Sydney', '2027-04-02T00:00:00Z', 3), [
      '2027-04-02T15:30Z', // 3 April 02:30 AEDT
      '2027-04-03T15:30Z', // 4 April 02:30 AEDT, the first of two
      '2027-04-04T16:30Z', // 5 April 02:30 AEST
    ]);
    assert.deepEqual(runs('30 2 * * *', 'Australia/Sydney', '2027-04-02T00:00:00Z', 4, { overlap: 'both' }), [
      '2027-04-02T15:30Z',
      '2027-04-03T15:30Z',
      '2027-04-03T16:30Z',
      '2027-04-04T16:30Z',
    ]);
    assert.deepEqual(runs('30 2 * * *', 'Australia/Sydney', '2027-10-01T00:00:00Z', 3), [
      '2027-10-01T16:30Z', // 2 October 02:30 AEST
      '2027-10-02T16:00Z', // 3 October 03:00 AEDT
      '2027-10-03T15:30Z', // 4 October 02:30 AEDT
    ]);
    assert.deepEqual(runs('30 2 * * *', 'Australia/Sydney', '2027-10-01T00:00:00Z', 2, { gap: 'skip' }), [
      '2027-10-01T16:30Z',
      '2027-10-03T15:30Z',
    ]);
  });

  it('hourly across fall back', () => {
    assert.deepEqual(runs('0 * * * *', 'Australia/Sydney', '2027-04-03T14:30:00Z', 2), ['2027-04-03T15:00Z', '2027-04-03T17:00Z']);
    assert.deepEqual(runs('0 * * * *', 'Australia/Sydney', '2027-04-03T14:30:00Z', 3, { overlap: 'both' }), [
      '2027-04-03T15:00Z',
      '2027-04-03T16:00Z',
      '2027-04-03T17:00Z',
    ]);
  });
});

describe('DST policy: Australia/Lord_Howe (a 30-minute shift)', () => {
  it('daily 01:00 keeps running across the April 2027 change, where cron-parser alone throws', () => {
    assert.throws(() => {
      const e = CronExpressionParser.parse('0 1 * * *', { tz: 'Australia/Lord_Howe', currentDate: new Date('2027-04-01T00:00:00Z') });
      for (let i = 0; i < 5; i++) e.next();
    }, /loop limit/);
    assert.doesNotThrow(() => validateCron('0 1 * * *', 'Australia/Lord_Howe', { now: new Date('2027-01-01T00:00:00Z') }));
    assert.deepEqual(runs('0 1 * * *', 'Australia/Lord_Howe', '2027-04-01T00:00:00Z', 5), [
      '2027-04-01T14:00Z', // 2 April 01:00 +11
      '2027-04-02T14:00Z',
      '2027-04-03T14:00Z', // 4 April 01:00 +11, before the change at 02:00
      '2027-04-04T14:30Z', // 5 April 01:00 +10:30
      '2027-04-05T14:30Z',
    ]);
  });

  it('daily 01:45 (repeated in April) and 02:15 (skipped in October)', () => {
    assert.deepEqual(runs('45 1 * * *', 'Australia/Lord_Howe', '2027-04-02T00:00:00Z', 3), [
      '2027-04-02T14:45Z',
      '2027-04-03T14:45Z', // 01:45 +11, the first of two
      '2027-04-04T15:15Z', // 01:45 +10:30
    ]);
    assert.deepEqual(runs('45 1 * * *', 'Australia/Lord_Howe', '2027-04-02T00:00:00Z', 4, { overlap: 'both' }), [
      '2027-04-02T14:45Z',
      '2027-04-03T14:45Z',
      '2027-04-03T15:15Z',
      '2027-04-04T15:15Z',
    ]);
    assert.deepEqual(runs('15 2 * * *', 'Australia/Lord_Howe', '2027-10-01T00:00:00Z', 3), [
      '2027-10-01T15:45Z', // 2 October 02:15 +10:30
      '2027-10-02T15:30Z', // 3 October 02:15 does not exist: 02:30 +11
      '2027-10-03T15:15Z', // 4 October 02:15 +11
    ]);
    assert.deepEqual(runs('15 2 * * *', 'Australia/Lord_Howe', '2027-10-01T00:00:00Z', 2, { gap: 'skip' }), [
      '2027-10-01T15:45Z',
      '2027-10-03T15:15Z',
    ]);
  });

  it('every 15 minutes and hourly across both changes', () => {
    assert.deepEqual(runs('*/15 * * * *', 'Australia/Lord_Howe', '2027-04-03T14:40:00Z', 3), [
      '2027-04-03T14:45Z', // 01:45 +11
      '2027-04-03T15:30Z', // 02:00 +10:30; the second 01:30 and 01:45 are not run
      '2027-04-03T15:45Z',
    ]);
    assert.deepEqual(runs('*/15 * * * *', 'Australia/Lord_Howe', '2027-04-03T14:40:00Z', 4, { overlap: 'both' }), [
      '2027-04-03T14:45Z',
      '2027-04-03T15:00Z',
      '2027-04-03T15:15Z',
      '2027-04-03T15:30Z',
    ]);
    assert.deepEqual(runs('0 * * * *', 'Australia/Lord_Howe', '2027-10-02T14:00:00Z', 3), [
      '2027-10-02T14:30Z', // 01:00 +10:30
      '2027-10-02T15:30Z', // 02:00 does not exist: 02:30 +11
      '2027-10-02T16:00Z', // 03:00 +11
    ]);
    assert.deepEqual(runs('0 * * * *', 'Australia/Lord_Howe', '2027-10-02T14:00:00Z', 2, { gap: 'skip' }), [
      '2027-10-02T14:30Z',
      '2027-10-02T16:00Z',
    ]);
  });
});

describe('Asia/Kolkata (no DST)', () => {
  it('daily, hourly and every 15 minutes at +05:30 all year', () => {
    assert.deepEqual(runs('30 2 * * *', 'Asia/Kolkata', '2027-03-27T00:00:00Z', 2), ['2027-03-27T21:00Z', '2027-03-28T21:00Z']);
    assert.deepEqual(runs('0 * * * *', 'Asia/Kolkata', '2027-10-31T00:10:00Z', 2), ['2027-10-31T00:30Z', '2027-10-31T01:30Z']);
    assert.deepEqual(runs('*/15 * * * *', 'Asia/Kolkata', '2027-10-31T00:10:00Z', 3, { overlap: 'both' }), [
      '2027-10-31T00:15Z',
      '2027-10-31T00:30Z',
      '2027-10-31T00:45Z',
    ]);
  });
});

describe('DST policy validation', () => {
  it('refuses unknown policies, naming the field', () => {
    for (const [dst, field] of [
      [{ gap: 'later' }, 'dst.gap'],
      [{ overlap: 'twice' }, 'dst.overlap'],
      [{ fold: 'once' }, 'dst.fold'],
      ['skip', 'dst'],
    ] as const) {
      assert.throws(
        () => validateCron('30 2 * * *', 'Europe/Paris', { dst: dst as unknown as DstPolicy }),
        (e: unknown) => e instanceof ValidationError && e.details[0]?.field === field,
        JSON.stringify(dst),
      );
    }
  });
});

describe('stable hashed crons (H)', () => {
  const from = new Date('2027-01-14T10:17:23Z');

  it('give the same timetable for the same schedule id, every time', () => {
    const a = nextRuns('0 H * * *', 3, 'UTC', from, { hashSeed: 'nightly-report' }).map((d) => d.toISOString());
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(nextRuns('0 H * * *', 3, 'UTC', from, { hashSeed: 'nightly-report' }).map((d) => d.toISOString()), a);
    }
    // Daily: one hour of the day, 24 h apart.
    assert.equal(Date.parse(a[1]!) - Date.parse(a[0]!), 24 * 3600 * 1000);
    const hours = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((id) => nextRuns('0 H * * *', 1, 'UTC', from, { hashSeed: id })[0]!.getUTCHours()));
    assert.ok(hours.size > 1, 'different ids spread over different hours');
  });

  it('H * * * * * runs 60 s apart', () => {
    const t = nextRuns('H * * * * *', 4, 'UTC', from, { hashSeed: 'heartbeat' }).map((d) => d.getTime());
    assert.deepEqual([t[1]! - t[0]!, t[2]! - t[1]!, t[3]! - t[2]!], [60_000, 60_000, 60_000]);
  });
});

describe('describeSchedule', () => {
  it('puts patterns in words with their zone', () => {
    assert.equal(describeSchedule({ cron: '30 2 * * *', tz: 'Europe/Paris' }), 'At 02:30, every day (Europe/Paris)');
    assert.equal(describeSchedule({ cron: '0 9 * * 1-5', tz: 'America/New_York' }), 'At 09:00, Monday through Friday (America/New_York)');
    assert.equal(describeSchedule({ cron: '*/15 * * * *', tz: 'UTC' }), 'Every 15 minutes (UTC)');
    assert.equal(describeSchedule({ every: 5000 }), 'Every 5 seconds');
    assert.equal(describeSchedule({ every: 1000 }), 'Every second');
    assert.equal(describeSchedule({ every: 90_000 }), 'Every 90 seconds');
    assert.equal(describeSchedule({ every: 2 * 3600 * 1000 }), 'Every 2 hours');
  });

  it('shows the values H takes for this schedule', () => {
    const next = nextRuns('H 3 * * *', 1, 'UTC', new Date('2027-01-01T00:00:00Z'), { hashSeed: 'backup' })[0]!;
    const minute = String(next.getUTCMinutes()).padStart(2, '0');
    assert.equal(describeSchedule({ cron: 'H 3 * * *', tz: 'UTC', id: 'backup' }), `At 03:${minute}, every day (UTC)`);
  });
});
