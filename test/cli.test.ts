import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestClient as JobCenterClient } from './support/center.js';
import { freePort } from '../src/redis/redis-server.js';
import { testClient } from './support/center.js';
import { runCli, type CliRun } from './support/cli.js';
import { ROOT } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * The CLI, spawned like a user runs the installed `job-center` command (compiled dist/src/cli/main.js,
 * the catalog in JOB_CATALOG; see test/support/cli.ts), against a real Redis. Independent invocations run in parallel to keep the file fast.
 */

let redis: TestRedis;
let client: JobCenterClient;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'jc-cli-'));

before(async () => {
  redis = await startTestRedis();
  env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() };
  client = await testClient(env);
});
after(async () => {
  await client?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Run = CliRun;

const cli = (args: string[], extraEnv: Record<string, string> = {}): Promise<Run> => runCli(args, { ...env, ...extraEnv });

function ok(run: Run): Run {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

describe('CLI', () => {
  it('--help, help <command>, and usage errors (exit 2) need no Redis', async () => {
    const [help, sub, cmdHelp, none, unknown, badOption, wrongOption] = await Promise.all([
      cli(['--help'], { REDIS_URL: 'redis://127.0.0.1:1' }),
      cli(['help', 'recurring']),
      cli(['continue', '--help']),
      cli([]),
      cli(['frobnicate']),
      cli(['enqueue', 'hello-world', '--colour', 'red']),
      cli(['enqueue', 'hello-world', '--cron', '* * * * *']),
    ]);
    ok(help);
    for (const word of ['enqueue', 'schedule', 'continue', 'job status', 'recurring list', 'recurring upsert', 'recurring remove', 'recurring trigger']) {
      assert.ok(help.stdout.includes(word), `--help mentions ${word}`);
    }
    assert.match(ok(sub).stdout, /recurring upsert <id> <name>/);
    assert.match(ok(cmdHelp).stdout, /--on success\|finished/);
    assert.equal(none.code, 2);
    // Spawned as the installed command: the help shows `job-center`, not this repository's `npm run cli --`.
    assert.match(none.stdout, /Usage: job-center <command>/);
    assert.doesNotMatch(help.stdout + sub.stdout + cmdHelp.stdout + unknown.stderr, /npm run cli/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /--colour/);
    assert.equal(wrongOption.code, 2);
    assert.match(wrongOption.stderr, /enqueue does not take --cron/);
  });

  it("a command's own usage errors exit 2 without waiting for Redis, even when it is down", async () => {
    const down = { REDIS_URL: 'redis://127.0.0.1:1' };
    const [noWhen, badRef, badDuration, offline] = await Promise.all([
      cli(['schedule', 'hello-world'], down),
      cli(['job', 'cancel', 'no-slash'], down),
      cli(['queue', 'clean', 'default', '--state', 'completed', '--older-than', 'soon'], down),
      cli(['job', 'status', 'default/1', '--timeout', '300'], { REDIS_URL: 'redis://only-a-secret@127.0.0.1:1' }),
    ]);
    assert.equal(noWhen.code, 2, noWhen.stderr);
    assert.match(noWhen.stderr, /exactly one of --delay and --at/);
    assert.equal(badRef.code, 2, badRef.stderr);
    assert.match(badRef.stderr, /QUEUE\/ID/);
    assert.equal(badDuration.code, 2, badDuration.stderr);
    assert.match(badDuration.stderr, /--older-than must be a duration/);
    // A valid command still waits for Redis and says it is unreachable (exit 1).
    assert.equal(offline.code, 1, offline.stderr);
    assert.match(offline.stderr, /did not answer within 300 ms/);
    assert.doesNotMatch(offline.stderr, /only-a-secret/, 'a user part alone, which some clients take as the password, is not printed');
  });

  it('enqueue, schedule (--delay / --at) and job status print JSON', async () => {
    const dataFile = join(dir, 'payload.json');
    writeFileSync(dataFile, JSON.stringify({ ms: 5, result: 'from-file' }));
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const [now, fromFile, keyed, keyedAgain, delayed, timed, prioritized] = await Promise.all([
      cli(['enqueue', 'sleep', '--data', '{"ms":10}']),
      cli(['enqueue', 'sleep', '--data', `@${dataFile}`]),
      cli(['enqueue', 'hello-world', '--job-id', 'cli-once']),
      cli(['enqueue', 'hello-world', '--job-id', 'cli-once']),
      cli(['schedule', 'hello-world', '--delay', '30s']),
      cli(['schedule', 'scheduler-test', '--at', at, '--data', '{"note":"later"}']),
      // As client.schedule and POST /api/jobs: a priority and attempts with a delay (refused as unknown options).
      cli(['schedule', 'hello-world', '--delay', '1h', '--priority', '4', '--attempts', '7']),
    ]);
    const p = await client.queues.get('default').getJob(String(ok(prioritized).json().id));
    assert.equal(p?.opts.priority, 4);
    assert.equal(p?.opts.attempts, 7);
    const created = ok(now).json();
    assert.equal(created.queue, 'batch');
    assert.equal(created.state, 'waiting');
    assert.deepEqual((await client.getJob(ok(fromFile).json() as never))?.data, { ms: 5, result: 'from-file' });
    assert.equal(ok(keyed).json().id, 'cli-once');
    assert.equal(ok(keyedAgain).json().id, 'cli-once');
    assert.ok(keyed.json().duplicate === true || keyedAgain.json().duplicate === true, 'one of the two was a duplicate');
    assert.equal((await client.queues.get('default').getJobs(['waiting'])).filter((j) => j.id === 'cli-once').length, 1);
    const d = ok(delayed).json();
    assert.equal(d.state, 'delayed');
    const job = await client.queues.get('default').getJob(String(d.id));
    assert.equal(job?.delay, 30_000);
    assert.equal(ok(timed).json().state, 'delayed');

    const [status, split, missing] = await Promise.all([
      cli(['job', 'status', `batch/${String(created.id)}`]),
      cli(['job', 'status', 'batch', String(created.id)]),
      cli(['job', 'status', 'batch/does-not-exist']),
    ]);
    const info = ok(status).json();
    assert.equal(info.id, created.id);
    assert.deepEqual(info.data, { ms: 10 });
    assert.ok('returnValue' in info && 'attemptsMade' in info && 'finishedAt' in info);
    assert.deepEqual(ok(split).json(), info);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No job batch\/does-not-exist/);
  });

  it('continue registers a continuation; bad references fail clearly', async () => {
    const parent = await client.enqueue('sleep', { ms: 1 });
    const other = await client.enqueue('sleep', { ms: 1 });
    const [cont, joined, noParent, badRef, badOn, noAfter] = await Promise.all([
      cli(['continue', 'scheduler-test', '--after', `batch/${parent.id}`, '--on', 'finished', '--data', '{"note":"next"}']),
      cli(['continue', 'scheduler-test', '--after', `batch/${parent.id},batch/${other.id}`, '--job-id', 'cli-join']),
      cli(['continue', 'scheduler-test', '--after', 'batch/nope']),
      cli(['continue', 'scheduler-test', '--after', 'batch']),
      cli(['continue', 'scheduler-test', '--after', `batch/${parent.id}`, '--on', 'sometimes']),
      cli(['continue', 'scheduler-test']),
    ]);
    const c = ok(cont).json();
    assert.equal(c.state, 'awaiting');
    assert.equal(c.queue, 'default');
    assert.equal((await client.getJob({ queue: 'default', id: String(c.id) }))?.state, 'awaiting');
    // Several parents: a join, reported like a batch.
    const j = ok(joined).json();
    assert.equal(j.join, 'cli-join');
    assert.equal(j.id, 'batthen-cli-join');
    assert.equal((await client.getBatch('cli-join'))?.total, 2);
    assert.equal(noParent.code, 1);
    assert.match(noParent.stderr, /Parent job batch\/nope does not exist/);
    for (const [run, re] of [[badRef, /QUEUE\/ID/], [badOn, /on: must be "success" or "finished"/], [noAfter, /needs --after/]] as const) {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, re);
    }
  });

  it('recurring upsert / list / trigger / remove', async () => {
    const [cron, every] = await Promise.all([
      cli(['recurring', 'upsert', 'cli-daily', 'scheduler-test', '--cron', '0 6 * * *', '--tz', 'Asia/Tokyo', '--data', '{"note":"d"}']),
      cli(['recurring', 'upsert', 'cli-often', 'hello-world', '--every', '10m', '--overlap', 'skip']),
    ]);
    assert.equal(ok(cron).json().tz, 'Asia/Tokyo');
    assert.equal(ok(every).json().every, 600_000);
    assert.equal(every.json().overlap, 'skip');
    const [list, trig] = await Promise.all([cli(['recurring', 'list']), cli(['recurring', 'trigger', 'cli-daily'])]);
    const items = ok(list).json<{ id: string; next: string }[]>();
    assert.deepEqual(items.map((s) => s.id).sort(), ['cli-daily', 'cli-often']);
    // An interval schedule's first run is due at once; a cron one waits for its next match.
    assert.ok(Date.parse(items.find((s) => s.id === 'cli-daily')!.next) > Date.now());
    assert.ok(items.every((s) => !Number.isNaN(Date.parse(s.next))));
    const t = ok(trig).json();
    assert.equal(t.queue, 'default');
    assert.deepEqual((await client.getJob(t as never))?.data, { note: 'd' });
    ok(await cli(['recurring', 'remove', 'cli-daily']));
    const [again, trigMissing, badCron, both] = await Promise.all([
      cli(['recurring', 'remove', 'cli-daily']),
      cli(['recurring', 'trigger', 'cli-daily']),
      cli(['recurring', 'upsert', 'x', 'hello-world', '--cron', '99 * * * *']),
      cli(['recurring', 'upsert', 'x', 'hello-world', '--cron', '* * * * *', '--every', '5s']),
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /No recurring job with id "cli-daily"/);
    assert.equal(trigMissing.code, 1);
    assert.equal(badCron.code, 2);
    assert.match(badCron.stderr, /Invalid cron pattern "99 \* \* \* \*"/);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --cron and --every/);
    assert.deepEqual((await client.recurring.list()).map((s) => s.id), ['cli-often']);
  });

  it('recurring upsert passes --misfire, --max-catch-up, --then*, the window and --dst-* through', async () => {
    const [cron, every] = await Promise.all([
      cli([
        'recurring', 'upsert', 'cli-semantics', 'scheduler-test', '--cron', '30 2 * * *', '--tz', 'Europe/Paris',
        '--dst-gap', 'skip', '--dst-overlap', 'both', '--misfire', 'all', '--max-catch-up', '5',
        '--then', 'scheduler-test', '--then-data', '{"note":"after"}', '--then-on', 'finished',
        '--start-date', '2030-01-01T00:00:00Z', '--end-date', '2031-01-01T00:00:00Z', '--limit', '3',
      ]),
      cli(['recurring', 'upsert', 'cli-skip', 'hello-world', '--every', '10m', '--misfire', 'skip', '--then', 'hello-world']),
    ]);
    ok(cron);
    ok(every);
    const [got, gotEvery] = await Promise.all([cli(['recurring', 'get', 'cli-semantics']), cli(['recurring', 'get', 'cli-skip'])]);
    const s = ok(got).json();
    assert.equal(s.cron, '30 2 * * *');
    assert.equal(s.tz, 'Europe/Paris');
    assert.deepEqual(s.dst, { gap: 'skip', overlap: 'both' });
    assert.equal(s.misfire, 'all');
    assert.equal(s.maxCatchUp, 5);
    assert.deepEqual(s.then, { name: 'scheduler-test', data: { note: 'after' }, on: 'finished' });
    assert.equal(s.startDate, '2030-01-01T00:00:00Z');
    assert.equal(s.endDate, '2031-01-01T00:00:00Z');
    assert.equal(s.limit, 3);
    // BullMQ got the window too: the first tick is the first 02:30 Paris time after the start date.
    assert.equal(s.next, '2030-01-01T01:30:00.000Z');
    assert.deepEqual(cron.json(), s, 'upsert prints what get reads back');
    const e = ok(gotEvery).json();
    assert.equal(e.misfire, 'skip');
    assert.equal(e.maxCatchUp, undefined);
    // --then alone: no data given is {}, and on defaults to success.
    assert.deepEqual(e.then, { name: 'hello-world', data: {}, on: 'success' });
    assert.equal(e.dst, undefined);
    assert.equal(e.startDate, undefined);
    assert.equal(e.limit, undefined);
    await Promise.all([client.recurring.remove('cli-semantics'), client.recurring.remove('cli-skip')]);
  });

  it('recurring upsert: a bad --misfire, --max-catch-up, --then*, window or --dst-* value exits 2 and writes nothing', async () => {
    const base = (id: string) => ['recurring', 'upsert', id, 'scheduler-test', '--cron', '0 6 * * *', '--tz', 'Europe/Paris'];
    const cases: [string, string[], RegExp][] = [
      ['bad-misfire', ['--misfire', 'sometimes'], /misfire: must be "once", "skip" or "all"/],
      ['bad-catch-up', ['--misfire', 'all', '--max-catch-up', 'abc'], /--max-catch-up must be a whole number, got "abc"/],
      ['bad-then', ['--then', 'no-such-job'], /then: Unknown job name "no-such-job"/],
      ['bad-then-data', ['--then', 'hello-world', '--then-data', '{"x":1}'], /then: Invalid payload for job "hello-world"/],
      ['bad-then-on', ['--then', 'hello-world', '--then-on', 'never'], /then\.on: must be "success" or "finished"/],
      ['bad-then-alone', ['--then-on', 'finished'], /--then-data and --then-on need --then NAME/],
      ['bad-start', ['--start-date', 'yesterday'], /startDate: must be an ISO 8601 date-time/],
      ['bad-end', ['--start-date', '2031-01-01T00:00:00Z', '--end-date', '2030-01-01T00:00:00Z'], /endDate must be after startDate/],
      ['bad-limit', ['--limit', '0'], /limit: must be from 1 to 1000000000/],
      ['bad-dst-gap', ['--dst-gap', 'maybe'], /dst\.gap: must be "shift" or "skip"/],
      ['bad-dst-overlap', ['--dst-overlap', 'x'], /dst\.overlap: must be "once" or "both"/],
    ];
    const runs = await Promise.all([
      ...cases.map(([id, flags]) => cli([...base(id), ...flags])),
      cli(['recurring', 'upsert', 'bad-dst-every', 'hello-world', '--every', '10m', '--dst-gap', 'skip']),
    ]);
    const all: [string, RegExp][] = [...cases.map(([id, , re]): [string, RegExp] => [id, re]), ['bad-dst-every', /dst applies to cron schedules only/]];
    all.forEach(([id, re], k) => {
      const run = runs[k]!;
      assert.equal(run.code, 2, `${id}: exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
      assert.match(run.stderr, re, id);
    });
    const ids = all.map(([id]) => id);
    assert.deepEqual((await client.recurring.list()).filter((s) => ids.includes(s.id)), [], 'no scheduler was written');
    for (const id of ids) assert.equal(await client.schedules.meta(id), undefined, `${id}: no definition was written`);
  });

  it('invalid input exits 2 naming the field; an unreachable Redis or a bad configuration exits 1', async () => {
    const port = await freePort();
    const started = Date.now();
    const [payload, badJson, unknownJob, noRedis, badEnv] = await Promise.all([
      cli(['enqueue', 'sleep', '--data', '{"ms":"soon"}']),
      cli(['enqueue', 'sleep', '--data', '{ms:1}']),
      cli(['enqueue', 'no-such-job']),
      cli(['enqueue', 'hello-world', '--timeout', '500'], { REDIS_URL: `redis://user:secret@127.0.0.1:${port}` }),
      cli(['recurring', 'list'], { WORKER_CONCURRENCY: 'lots' }),
    ]);
    assert.equal(payload.code, 2);
    assert.match(payload.stderr, /data\.ms/);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--data must be JSON/);
    assert.equal(unknownJob.code, 2);
    assert.match(unknownJob.stderr, /known jobs: hello-world/);
    assert.equal(noRedis.code, 1);
    assert.match(noRedis.stderr, /did not answer within 500 ms/);
    assert.doesNotMatch(noRedis.stderr, /secret/, 'the password is not printed');
    assert.ok(Date.now() - started < 20_000);
    assert.equal(badEnv.code, 1, 'a bad configuration value is a failed run, as for every process (README)');
    assert.match(badEnv.stderr, /WORKER_CONCURRENCY="lots"/);
  });

  it('--version, and --json on every command; the catalog comes from JOB_CATALOG', async () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string };
    const [version, versionJson, listJson, noCatalog, badCatalog, badCatalogEnqueue, listNoCatalog, summaryNoCatalog] = await Promise.all([
      cli(['--version']),
      cli(['--version', '--json']),
      cli(['queue', 'list', '--json']),
      cli(['enqueue', 'sleep', '--data', '{"ms":1}'], { JOB_CATALOG: '' }),
      cli(['jobs'], { JOB_CATALOG: resolve(ROOT, 'package.json') }),
      cli(['enqueue', 'sleep'], { JOB_CATALOG: resolve(ROOT, 'no-such-catalog.js') }),
      cli(['queue', 'list'], { JOB_CATALOG: '' }),
      cli(['queue', 'summary', 'default', '--json'], { JOB_CATALOG: '' }),
    ]);
    assert.equal(ok(version).stdout.trim(), `job-center ${pkg.version}`);
    assert.deepEqual(ok(versionJson).json(), { name: 'job-center', version: pkg.version });
    assert.ok(Array.isArray(ok(listJson).json()), 'queue list --json is a JSON array');
    // Without a catalog the CLI still manages jobs, but knows no job type to enqueue.
    assert.equal(noCatalog.code, 2);
    assert.match(noCatalog.stderr, /no job catalog was given; set JOB_CATALOG/);
    // queue list lists the catalog's queues: without one it says so instead of printing [].
    assert.equal(listNoCatalog.code, 2);
    assert.match(listNoCatalog.stderr, /no job catalog was given: set JOB_CATALOG/);
    assert.equal(summaryNoCatalog.code, 1);
    assert.match(summaryNoCatalog.stderr, /Unknown queue "default"; known queues: \(none: no job catalog was given; set JOB_CATALOG/);
    for (const run of [badCatalog, badCatalogEnqueue]) {
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /JOB_CATALOG=.* (is not a contract map|exports neither|could not be loaded)/);
    }
  });

  it('jobs lists the catalog with payload schemas', async () => {
    const catalog = ok(await cli(['jobs'])).json<{ name: string; queue: string; payload: { required?: string[] } }[]>();
    const sleep = catalog.find((j) => j.name === 'sleep');
    assert.equal(sleep?.queue, 'batch');
    assert.deepEqual(sleep?.payload.required, ['ms']);
  });
});
