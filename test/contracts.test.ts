import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { jobs, sleep } from '../contracts/index.js';
import { ValidationError } from '../src/errors.js';
import { defineJob, parsePayload, type PayloadInput } from '../src/jobs/contract.js';
import { JobCatalog } from '../src/jobs/catalog.js';
import { jobOptions, validateJobId } from '../src/jobs/options.js';
import { runAt } from '../src/schemas/fields.js';

describe('job contracts', () => {
  it('declare the four example jobs with retention so Redis does not grow forever', () => {
    assert.deepEqual(Object.keys(jobs).sort(), ['fail', 'hello-world', 'scheduler-test', 'sleep']);
    for (const c of Object.values(jobs)) {
      const opts = jobOptions(c);
      assert.ok(opts.removeOnComplete && opts.removeOnComplete !== true, `${c.name} keeps completed jobs bounded`);
      assert.ok(opts.removeOnFail && opts.removeOnFail !== true, `${c.name} keeps failed jobs bounded`);
      assert.ok((opts.attempts ?? 0) >= 1);
    }
  });

  it('validate payloads at run time, naming the field', () => {
    assert.deepEqual(parsePayload(sleep, { ms: 5 }), { ms: 5 });
    assert.throws(
      () => parsePayload(sleep, { ms: -1 }),
      (e: unknown) => e instanceof ValidationError && e.details[0]?.field === 'data.ms' && /data\.ms/.test(e.message),
    );
    assert.throws(
      () => parsePayload(sleep, { ms: 1, extra: true }),
      (e: unknown) => e instanceof ValidationError && /extra/.test(e.message),
    );
    assert.throws(() => parsePayload(jobs.fail, {}), /data\.message/);
  });

  it('check payloads at compile time', () => {
    const ok: PayloadInput<typeof sleep> = { ms: 10, result: { any: ['json'] } };
    // @ts-expect-error -- ms must be a number; the typecheck fails if this stops being an error
    const bad: PayloadInput<typeof sleep> = { ms: 'ten' };
    assert.ok(ok && bad);
  });

  it('reject unknown job names, listing the known ones', () => {
    const catalog = new JobCatalog(jobs);
    assert.throws(
      () => catalog.contractFor('nope'),
      (e: unknown) => e instanceof ValidationError && e.details[0]?.field === 'name' && /hello-world/.test(e.message),
    );
    assert.throws(() => catalog.contractFor('__proto__'), ValidationError);
    assert.deepEqual(catalog.queueNames, ['default', 'batch']);
    assert.throws(() => new JobCatalog({}).contractFor('sleep'), /no job catalog was given/);
  });

  it('a catalog holds contracts made by defineJob, each under its own name', () => {
    assert.throws(() => new JobCatalog({ other: sleep }), /"other" to hold the contract of that name, got "sleep"/);
    assert.throws(() => new JobCatalog({ x: {} as never }), /contract made by defineJob/);
  });

  it('reject bad declarations and job ids', () => {
    assert.throws(() => defineJob({ name: 'Bad Name', queue: 'q', schema: z.object({}) }), /kebab-case/);
    assert.throws(() => defineJob({ name: 'ok', queue: 'q', schema: z.object({}), defaults: { attempts: 0 } }), /attempts/);
    // An unknown strategy left a failing job active until its lock expired, then "stalled"; a
    // negative or NaN timeout silently meant none.
    assert.throws(() => defineJob({ name: 'ok', queue: 'q', schema: z.object({}), defaults: { backoff: { type: 'custom', delay: 10 } } }), /defaults\.backoff/);
    assert.throws(() => defineJob({ name: 'ok', queue: 'q', schema: z.object({}), defaults: { backoff: { type: 'fixed', delay: -1 } } }), /defaults\.backoff/);
    for (const timeoutMs of [-5, Number.NaN, 1.5]) {
      assert.throws(() => defineJob({ name: 'ok', queue: 'q', schema: z.object({}), defaults: { timeoutMs } }), /defaults\.timeoutMs/, String(timeoutMs));
    }
    assert.equal(defineJob({ name: 'ok', queue: 'q', schema: z.object({}), defaults: { backoff: 500, timeoutMs: 0 } }).defaults.backoff, 500);
    assert.equal(validateJobId('order-42'), 'order-42');
    for (const id of ['42', 'a:b', '', 'x'.repeat(200)]) assert.throws(() => validateJobId(id), ValidationError, id);
  });
});

describe('runAt', () => {
  it('a value that is no time at all (offset +25:00) gets the format message only, not "within 10 years"', () => {
    const messages = (v: string) => runAt.safeParse(v).error?.issues.map((i) => i.message) ?? [];
    assert.deepEqual(messages('2030-01-01T09:00:00+25:00'), ['must be an ISO 8601 date-time with offset, e.g. 2030-01-01T09:00:00Z']);
    assert.deepEqual(messages('9999-01-01T00:00:00Z'), ['must be within 10 years from now']);
    assert.deepEqual(messages('2030-01-01T09:00:00Z'), []);
  });
});
