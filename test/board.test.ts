import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'bullmq';
import type { JobRef } from '../src/client.js';
import type { TestClient as JobCenterClient } from './support/center.js';
import { auditLines, http, parsePrometheus, type HttpOptions } from './board-support.js';
import { startApp, type TestApp } from './support/app.js';
import { testClient } from './support/center.js';
import { waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * The server's app in this process on a free port (admin + viewer accounts, API token) against a
 * private Redis (the server process itself is started by the outage, build and browser tests): the board's
 * authentication, roles, audit trail, failed-login limit, /metrics and /healthz over HTTP.
 * Tests run in order and share state; the last one stops Redis.
 */

/** Bull Board's English texts, by which its UI titles an error toast (`error.key`). */
const BOARD_MESSAGES = JSON.parse(
  readFileSync(fileURLToPath(import.meta.resolve('@bull-board/ui/package.json')).replace(/package\.json$/, 'dist/static/locales/en-US/messages.json'), 'utf8'),
) as { ERRORS: Record<string, string> };

const ADMIN = { user: 'ops-admin', password: 'admin-password-123' };
const VIEWER = { user: 'ops-viewer', password: 'viewer-password-456' };
const TOKEN = 'api-token-0123456789abcdef';

let redis: TestRedis;
let client: JobCenterClient;
let app: TestApp;
let server: TestApp['proc'];
let base: string;
let prefix: string;

before(async () => {
  redis = await startTestRedis({ appendonly: false });
  prefix = uniquePrefix();
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix };
  client = await testClient(env);
  app = await startApp({
    ...env,
    BOARD_USER: ADMIN.user,
    BOARD_PASSWORD: ADMIN.password,
    BOARD_VIEWER_USER: VIEWER.user,
    BOARD_VIEWER_PASSWORD: VIEWER.password,
    BOARD_TITLE: 'Board Test Center',
    BOARD_BASE_PATH: '/ops/board',
    API_TOKEN: TOKEN,
    AUTH_MAX_FAILURES: '4',
    AUTH_WINDOW_MS: '60000',
  });
  ({ proc: server, base } = app);
});

after(async () => {
  await app?.close();
  await client.close();
  await redis.stop();
});

const board = (path: string, options: HttpOptions = {}) => http(`${base}/ops/board${path}`, options);
const state = (ref: JobRef) => client.getJob(ref).then((j) => j?.state ?? 'missing');
const metrics = async (auth: HttpOptions['auth'] = TOKEN) => {
  const res = await http(`${base}/metrics`, { auth });
  assert.equal(res.status, 200, res.text);
  return parsePrometheus(res.text);
};

/** Jobs in known states, made by a metrics-enabled worker in this process (then closed). */
let completed: JobRef;
let failed: JobRef;
let waiting: JobRef;
let delayed: JobRef;

describe('board behind authentication', () => {
  it('answers 401 with a Basic challenge without or with wrong credentials, for pages, assets and API', async () => {
    // Wrong logins count against the source address: use one of our own (see the 429 test).
    const from = '127.0.0.2';
    for (const path of ['', '/', '/static/favicon-32x32.png', '/api/queues']) {
      const res = await board(path, { from });
      assert.equal(res.status, 401, path);
      assert.equal(res.headers['www-authenticate'], 'Basic realm="job-center"');
      assert.equal(res.json<{ error: string }>().error, 'Missing or wrong board credentials');
    }
    assert.equal((await board('/', { auth: { ...ADMIN, password: 'wrong' }, from })).status, 401);
    assert.equal((await board('/', { auth: { user: VIEWER.user, password: ADMIN.password }, from })).status, 401);
    assert.equal((await board('/', { auth: TOKEN, from })).status, 401, 'the API token is not a board login');
  });

  it('serves the board to the admin and the viewer, read-only for the viewer', async () => {
    for (const account of [ADMIN, VIEWER]) {
      const page = await board('/', { auth: account });
      assert.equal(page.status, 200);
      assert.match(page.text, /Board Test Center/);
      assert.match(page.text, /\/ops\/board\//, 'the UI knows its base path');
      assert.equal(page.headers['x-powered-by'], undefined);
      const api = await board('/api/queues', { auth: account });
      assert.equal(api.status, 200);
      const queues = api.json<{ queues: { name: string; readOnlyMode: boolean; description: string }[] }>().queues;
      assert.deepEqual(queues.map((q) => q.name).sort(), ['batch', 'default']);
      for (const q of queues) assert.equal(q.readOnlyMode, account === VIEWER, `${q.name} for ${account.user}`);
      assert.match(queues.find((q) => q.name === 'default')!.description, /hello-world/);
    }
  });

  it("the schedule page names an icon that answers (the browser's /favicon.ico was a 404 console error on every load)", async () => {
    const page = await http(`${base}/schedules`, { auth: ADMIN });
    assert.equal(page.status, 200, page.text);
    const href = /<link rel="icon"[^>]* href="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(href, 'a <link rel="icon">');
    const icon = await http(new URL(href.replaceAll('&amp;', '&'), `${base}/schedules`).href, { auth: ADMIN });
    assert.equal(icon.status, 200, `${href}: ${icon.text.slice(0, 200)}`);
    assert.match(String(icon.headers['content-type']), /^image\//);
  });

  it('exports per-queue counts, completed/failed totals and connected workers on /metrics', async () => {
    const worker = new Worker(
      'default',
      async (job) => {
        if (job.name === 'fail') throw new Error('boom');
        return 'ok';
      },
      { connection: { url: redis.url }, prefix, metrics: { maxDataPoints: 60 } },
    );
    try {
      completed = await client.enqueue('hello-world', {});
      await client.enqueue('hello-world', {});
      failed = await client.enqueue('fail', { message: 'boom' }, { attempts: 1 });
      await waitFor(async () => (await state(failed)) === 'failed' && (await state(completed)) === 'completed', 'jobs finished');
      const live = await waitFor(async () => {
        const m = await metrics();
        return m.get('jobcenter_queue_workers{queue="default"}') === 1 ? m : undefined;
      }, 'one worker seen');
      assert.equal(live.get('jobcenter_queue_workers{queue="batch"}'), 0);
    } finally {
      await worker.close();
    }
    waiting = await client.enqueue('hello-world', {});
    delayed = await client.enqueue('hello-world', {}, { delay: 600_000 });

    const m = await waitFor(async () => {
      const s = await metrics();
      return s.get('jobcenter_queue_workers{queue="default"}') === 0 ? s : undefined;
    }, 'worker gone from the metrics');
    const expected: Record<string, number> = {
      'jobcenter_redis_up': 1,
      'jobcenter_queue_jobs{queue="default",state="completed"}': 2,
      'jobcenter_queue_jobs{queue="default",state="failed"}': 1,
      'jobcenter_queue_jobs{queue="default",state="waiting"}': 1,
      'jobcenter_queue_jobs{queue="default",state="delayed"}': 1,
      'jobcenter_queue_jobs{queue="default",state="active"}': 0,
      'jobcenter_queue_jobs{queue="batch",state="waiting"}': 0,
      'jobcenter_jobs_completed_total{queue="default"}': 2,
      'jobcenter_jobs_failed_total{queue="default"}': 1,
      'jobcenter_jobs_completed_total{queue="batch"}': 0,
      'jobcenter_queue_paused{queue="default"}': 0,
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(m.get(key), value, key);

    const res = await http(`${base}/metrics`, { auth: TOKEN });
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.equal((await metrics(ADMIN)).get('jobcenter_redis_up'), 1, 'board admin may scrape');
    assert.equal((await metrics(VIEWER)).get('jobcenter_redis_up'), 1, 'board viewer may scrape');
    for (const auth of [undefined, 'wrong-token-0123456789', { ...VIEWER, password: 'nope' }]) {
      const denied = await http(`${base}/metrics`, { auth, from: '127.0.0.3' });
      assert.equal(denied.status, 401, JSON.stringify(auth));
      assert.match(String(denied.headers['www-authenticate']), /^Basic realm=/);
    }
  });

  it('refuses every write with viewer credentials (403), whatever the UI shows, and changes nothing', async () => {
    const writes: [string, string, unknown?][] = [
      ['PUT', '/api/queues/pause'],
      ['PUT', '/api/queues/resume'],
      ['PUT', '/api/queues/default/pause'],
      ['PUT', `/api/queues/default/${waiting.id}/clean`],
      ['PUT', `/api/queues/default/${failed.id}/retry`],
      ['PUT', `/api/queues/default/${delayed.id}/promote`],
      ['PUT', '/api/queues/default/retry/failed'],
      ['PUT', '/api/queues/default/clean/completed'],
      ['PUT', '/api/queues/default/empty'],
      ['PUT', '/api/queues/default/obliterate', {}],
      ['POST', '/api/queues/default/add', { name: 'hello-world', data: {} }],
      ['PATCH', `/api/queues/default/${waiting.id}/update-data`, { data: { x: 1 } }],
      ['PUT', '/api/queues/default/job-schedulers/any/run'],
      ['DELETE', '/api/queues/default'],
    ];
    const before = auditLines(server).length;
    for (const [method, path, body] of writes) {
      const res = await board(path, { method, auth: VIEWER, body });
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
      assert.equal(res.json<{ error: string }>().error, 'The viewer account is read-only');
    }
    assert.equal(await client.queues.get('default').isPaused(), false);
    assert.deepEqual(
      [await state(waiting), await state(failed), await state(delayed), await state(completed)],
      ['waiting', 'failed', 'delayed', 'completed'],
    );
    assert.equal(await client.queues.get('default').count(), 2, 'no job added, none removed');
    const records = await waitFor(() => {
      const r = auditLines(server).slice(before);
      return r.length === writes.length ? r : undefined;
    }, 'one audit record per refused write');
    for (const r of records) {
      assert.equal(r.actor, VIEWER.user);
      assert.equal(r.result, 'denied');
      assert.equal(r.status, 403);
    }
    assert.deepEqual(
      records.slice(3, 6).map((r) => [r.action, r.queue, r.job]),
      [
        ['board.job.remove', 'default', waiting.id],
        ['board.job.retry', 'default', failed.id],
        ['board.job.promote', 'default', delayed.id],
      ],
    );
  });

  it('lets the admin retry, promote, remove, pause and resume, and audits each action', async () => {
    const before = auditLines(server).length;
    const act = async (method: string, path: string) => {
      const res = await board(path, { method, auth: ADMIN });
      assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
    };
    await act('PUT', `/api/queues/default/${failed.id}/retry`);
    await act('PUT', `/api/queues/default/${delayed.id}/promote`);
    await act('PUT', `/api/queues/default/${waiting.id}/clean`);
    await act('PUT', '/api/queues/batch/pause');
    assert.equal(await client.queues.get('batch').isPaused(), true);
    await act('PUT', '/api/queues/batch/resume');
    assert.equal(await client.queues.get('batch').isPaused(), false);
    assert.equal(await state(failed), 'waiting', 'retried');
    assert.equal(await state(delayed), 'waiting', 'promoted');
    assert.equal(await state(waiting), 'missing', 'removed');

    const records = await waitFor(() => {
      const r = auditLines(server).slice(before);
      return r.length === 5 ? r : undefined;
    }, 'five audit records');
    assert.deepEqual(
      records.map((r) => [r.actor, r.action, r.queue, r.job ?? null, r.result]),
      [
        [ADMIN.user, 'board.job.retry', 'default', failed.id, 'ok'],
        [ADMIN.user, 'board.job.promote', 'default', delayed.id, 'ok'],
        [ADMIN.user, 'board.job.remove', 'default', waiting.id, 'ok'],
        [ADMIN.user, 'board.queue.pause', 'batch', null, 'ok'],
        [ADMIN.user, 'board.queue.resume', 'batch', null, 'ok'],
      ],
    );
    for (const r of records) {
      assert.equal(r.ip, '127.0.0.1');
      assert.equal(typeof r.at, 'string');
      assert.ok(typeof r.status === 'number' && r.status < 300);
    }
  });

  it("a Bull Board error (BullMQ refusing an option) answers without a stack unless EXPOSE_ERROR_STACKS=true, even with NODE_ENV=development", async () => {
    // Bull Board hands the options to BullMQ, which throws on a priority out of its range: a real 500 from inside the board.
    // (Job ids are checked before, as the API checks them: see the add test below.)
    const refuse = (url: string) => http(`${url}/api/queues/default/add`, { method: 'POST', auth: ADMIN, body: { name: 'hello-world', data: {}, options: { priority: 1.5 } } });
    const hidden = await refuse(`${base}/ops/board`);
    assert.equal(hidden.status, 500, hidden.text);
    assert.match(hidden.text, /[Pp]riority/, 'the error says what was wrong');
    assert.doesNotMatch(hidden.text, /\bat .*\.(js|ts):\d+/, 'no stack frames (absolute paths) leave the server');
    const exposing = await startApp({
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      NODE_ENV: 'development',
      EXPOSE_ERROR_STACKS: 'true',
      BOARD_USER: ADMIN.user,
      BOARD_PASSWORD: ADMIN.password,
    });
    try {
      const shown = await refuse(`${exposing.base}/board`);
      assert.equal(shown.status, 500, shown.text);
      assert.match(shown.text, /\bat .*\.(js|ts):\d+/, 'asked for: the stack is in the answer');
    } finally {
      await exposing.close();
    }
    const defaults = await startApp({ REDIS_URL: redis.url, QUEUE_PREFIX: prefix, NODE_ENV: 'development', BOARD_USER: ADMIN.user, BOARD_PASSWORD: ADMIN.password });
    try {
      const dev = await refuse(`${defaults.base}/board`);
      assert.equal(dev.status, 500, dev.text);
      assert.doesNotMatch(dev.text, /\bat .*\.(js|ts):\d+/, 'NODE_ENV=development alone shows no stack');
    } finally {
      await defaults.close();
    }
  });

  it("removing a job scheduler removes the schedule through the center, definition included (the detector re-created it)", async () => {
    await client.recurring.upsert('board-removed', { every: 3_600_000 }, 'hello-world', {});
    const res = await board('/api/queues/default/job-schedulers/board-removed/remove', { method: 'PUT', auth: ADMIN });
    assert.equal(res.status, 204, res.text);
    assert.equal(await client.recurring.get('board-removed'), undefined);
    assert.equal(await client.schedules.meta('board-removed'), undefined, 'no definition is left for a repair to re-create');
    assert.deepEqual(await client.schedules.orphans(await client.schedules.list()), []);
  });

  it("adds jobs from the board only by the queue's contracts: an unknown name or a refused payload is a 400 (was added, then failed in the worker), and the contract's defaults apply", async () => {
    for (const body of [
      { name: 'fail', data: {}, options: {} },
      { name: 'fail', data: { message: 'x', extra: 1 }, options: {} },
      { name: 'sleep', data: { ms: 1 }, options: {} },
      { name: 'no-such-job', data: {}, options: {} },
    ]) {
      const res = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.ok(res.json<{ error: string }>().error.length > 0);
    }
    // A refused payload names its field, as POST /api/jobs does.
    const missing = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body: { name: 'fail', data: {}, options: {} } });
    assert.ok(missing.json<{ details: { field: string }[] }>().details.some((d) => d.field === 'data.message'), missing.text);
    const ok = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body: { name: 'fail', data: { message: 'added <b>from</b> the board' }, options: { delay: 3_600_000 } } });
    assert.equal(ok.status, 200, ok.text);
    const id = ok.json<{ job: { id: string } }>().job.id;
    const job = await client.queues.get('default').getJob(id);
    assert.ok(job, 'the job was added');
    assert.equal(job.opts.delay, 3_600_000, "the form's own options are kept");
    assert.ok(job.opts.removeOnComplete !== undefined && job.opts.removeOnFail !== undefined, `retention of the contract: ${JSON.stringify(job.opts)}`);
    await job.remove();
  });

  it("refuses a board add whose jobId the API refuses (400 naming options.jobId): `wait` wrote the job onto the queue's wait list and broke every later add (500 WRONGTYPE)", async () => {
    const queue = client.queues.get('default');
    for (const jobId of ['wait', 'meta', 'a:b', '42', 'cont-x']) {
      const res = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body: { name: 'hello-world', data: {}, options: { jobId } } });
      assert.equal(res.status, 400, `${jobId}: ${res.text}`);
      assert.ok(res.json<{ details: { field: string }[] }>().details.some((d) => d.field === 'options.jobId'), res.text);
    }
    assert.notEqual(await redis.client.type(`${prefix}:default:wait`), 'hash', 'no job hash was written onto the wait list');
    // The queue still takes jobs, from the board (with a good id) and from the API.
    const ok = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body: { name: 'hello-world', data: {}, options: { jobId: 'board-order-1', delay: 3_600_000 } } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json<{ job: { id: string } }>().job.id, 'board-order-1');
    await (await queue.getJob('board-order-1'))?.remove();
  });

  it('a board "Duplicate" of a job (its own options, its id included) is a 409 naming the fix, not an "added" that added nothing; repeat and parent options are refused', async () => {
    const queue = client.queues.get('default');
    const schedulers = await queue.getJobSchedulersCount();
    const original = await client.enqueue('scheduler-test', { note: 'original' }, { delay: 3_600_000 });
    const stored = (await queue.getJob(original.id))!;
    const dup = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body: { name: stored.name, data: stored.data, options: stored.opts } });
    assert.equal(dup.status, 409, dup.text);
    assert.match(dup.json<{ error: string }>().error, /remove jobId from the options/);
    const { jobId: _id, ...withoutId } = stored.opts;
    const copy = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body: { name: stored.name, data: stored.data, options: withoutId } });
    assert.equal(copy.status, 200, copy.text);
    const copyId = copy.json<{ job: { id: string } }>().job.id;
    assert.notEqual(copyId, original.id, 'a copy was added');
    for (const [options, field] of [
      [{ repeat: { every: 60_000 }, repeatJobKey: 'k' }, 'options.repeat'],
      [{ parent: { id: original.id, queue: `${prefix}:default` } }, 'options.parent'],
    ] as const) {
      const res = await board('/api/queues/default/add', { method: 'POST', auth: ADMIN, body: { name: 'hello-world', data: {}, options } });
      assert.equal(res.status, 400, res.text);
      assert.ok(res.json<{ details: { field: string }[] }>().details.some((d) => d.field === field), res.text);
    }
    assert.equal(await queue.getJobSchedulersCount(), schedulers, 'no scheduler was made');
    await Promise.all([original.id, copyId].map(async (id) => (await queue.getJob(id))?.remove()));
  });

  it("a board edit of a job's data is checked against its contract: 400 naming the field, nothing written", async () => {
    const queue = client.queues.get('default');
    const job = await client.enqueue('scheduler-test', { note: 'before' }, { delay: 3_600_000 });
    const path = `/api/queues/default/${encodeURIComponent(job.id)}/update-data`;
    for (const jobData of [{ note: 5 }, { note: 'x', extra: true }, 'text', null]) {
      const res = await board(path, { method: 'PATCH', auth: ADMIN, body: { jobData } });
      assert.equal(res.status, 400, `${JSON.stringify(jobData)}: ${res.text}`);
    }
    assert.deepEqual((await queue.getJob(job.id))!.data, { note: 'before' }, 'nothing was written');
    const ok = await board(path, { method: 'PATCH', auth: ADMIN, body: { jobData: { note: 'after' } } });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual((await queue.getJob(job.id))!.data, { note: 'after' });
    await (await queue.getJob(job.id))?.remove();
  });

  it("removes or edits a job scheduler only on the queue the request names (404 elsewhere): another queue's remove removed it", async () => {
    await client.recurring.upsert('board-elsewhere', { every: 3_600_000 }, 'hello-world', {});
    for (const [path, options] of [
      ['/api/queues/batch/job-schedulers/board-elsewhere/remove', { method: 'PUT' }],
      ['/api/queues/no-such-queue/job-schedulers/board-elsewhere/remove', { method: 'PUT' }],
      ['/api/queues/batch/job-schedulers/board-elsewhere', { method: 'PATCH', body: { every: 60_000 } }],
      ['/api/queues/no-such-queue/job-schedulers/board-elsewhere', { method: 'PATCH', body: { every: 60_000 } }],
    ] as const) {
      const res = await board(path, { ...options, auth: ADMIN });
      assert.equal(res.status, 404, `${options.method} ${path}: ${res.text}`);
      assert.match(res.text, /ERRORS\.(QUEUE|JOB_SCHEDULER)_NOT_FOUND/);
    }
    const kept = await client.recurring.get('board-elsewhere');
    assert.equal(kept?.every, 3_600_000, 'the schedule is untouched');
    await client.recurring.remove('board-elsewhere');
  });

  it('editing a job scheduler reschedules it through the center, keeping its job and options (a pause and resume brought back the old timing)', async () => {
    await client.recurring.upsert('board-edited', { cron: '0 3 * * *', tz: 'Europe/Berlin' }, 'scheduler-test', { note: 'kept' }, { overlap: 'skip', misfire: 'skip' });
    const res = await board('/api/queues/default/job-schedulers/board-edited', { method: 'PATCH', auth: ADMIN, body: { pattern: '30 4 * * *', tz: 'Europe/Paris' } });
    assert.equal(res.status, 204, res.text);
    await client.recurring.pause('board-edited');
    const resumed = await client.recurring.resume('board-edited');
    assert.deepEqual([resumed.cron, resumed.tz, resumed.overlap, resumed.misfire, resumed.data], ['30 4 * * *', 'Europe/Paris', 'skip', 'skip', { note: 'kept' }]);
    // Bull Board sends an end date as epoch ms: it was refused (400, "must be an ISO 8601 date-time").
    const end = Date.now() + 7 * 24 * 3600 * 1000;
    const ended = await board('/api/queues/default/job-schedulers/board-edited', { method: 'PATCH', auth: ADMIN, body: { pattern: '30 4 * * *', tz: 'Europe/Paris', endDate: end } });
    assert.equal(ended.status, 204, ended.text);
    assert.equal((await client.recurring.get('board-edited'))?.endDate, new Date(end).toISOString());
    const bad = await board('/api/queues/default/job-schedulers/board-edited', { method: 'PATCH', auth: ADMIN, body: { pattern: 'every monday' } });
    assert.equal(bad.status, 400, bad.text);
    // An array body: its `every` was Array.prototype.every ("got function every()").
    const array = await board('/api/queues/default/job-schedulers/board-edited', { method: 'PATCH', auth: ADMIN, body: [1000] });
    assert.equal(array.status, 400, array.text);
    assert.match(array.text, /must be a JSON object/);
    await client.recurring.remove('board-edited');
  });

  it("refuses job ids that name one of the queue's own keys (404): removing job `meta` un-paused the queue", async () => {
    await client.pauseQueue('batch');
    for (const [method, path] of [
      ['PUT', '/api/queues/batch/meta/clean'],
      ['PUT', '/api/queues/batch/meta/retry'],
      ['PUT', '/api/queues/batch/delayed/promote'],
      ['GET', '/api/queues/batch/events'],
      ['GET', '/api/queues/batch/wait/logs'],
    ] as const) {
      const res = await board(path, { method, auth: ADMIN });
      assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${res.text}`);
    }
    assert.equal(await client.queues.get('batch').isPaused(), true, "the queue's meta is untouched");
    // Queue routes of the same shape still work.
    assert.equal((await board('/api/queues/batch/metrics', { auth: ADMIN })).status, 200);
    assert.equal((await board('/api/queues/batch/resume', { method: 'PUT', auth: ADMIN })).status < 300, true);
    assert.equal(await client.queues.get('batch').isPaused(), false);
  });

  it('refuses case-changed or trailing-slash spellings of board writes (404), and the audit still names them', async () => {
    const before = auditLines(server).length;
    for (const path of ['/API/QUEUES/batch/PAUSE', '/api/queues/batch/pause/']) {
      const res = await board(path, { method: 'PUT', auth: ADMIN });
      assert.equal(res.status, 404, `${path}: ${res.text}`);
    }
    assert.equal(await client.queues.get('batch').isPaused(), false, 'nothing was paused');
    const records = await waitFor(() => {
      const r = auditLines(server).slice(before);
      return r.length === 2 ? r : undefined;
    }, 'two audit records');
    // Refused before the login is checked, like every other refusal that needs no credentials.
    for (const r of records) {
      assert.deepEqual([r.actor, r.action, r.queue, r.result, r.status], ['anonymous', 'board.queue.pause', 'batch', 'denied', 404]);
    }
  });

  it('names the target of case-changed and trailing-slash /api writes in the audit', async () => {
    const before = auditLines(server).length;
    const res = await http(`${base}/API/RECURRING/no-such-schedule/`, { method: 'DELETE', auth: TOKEN });
    assert.equal(res.status, 404, res.text);
    const [record] = await waitFor(() => {
      const r = auditLines(server).slice(before);
      return r.length === 1 ? r : undefined;
    }, 'one audit record');
    assert.equal(record?.action, 'recurring.remove');
    assert.equal(record?.schedule, 'no-such-schedule');
  });

  it('answers 429 after AUTH_MAX_FAILURES wrong logins from one address, counting only wrong credentials', async () => {
    const from = '127.0.0.9';
    for (let i = 0; i < 6; i++) assert.equal((await board('/api/queues', { auth: ADMIN, from })).status, 200, 'successes do not count');
    for (let i = 0; i < 6; i++) assert.equal((await board('/', { from })).status, 401, 'the no-credentials challenge does not count');
    for (let i = 0; i < 2; i++) {
      assert.equal((await board('/api/queues/pause', { method: 'PUT', auth: VIEWER, from })).status, 403, '403s do not count');
    }
    for (let i = 0; i < 4; i++) {
      assert.equal((await board('/', { auth: { ...ADMIN, password: `guess-${i}` }, from })).status, 401, `guess ${i}`);
    }
    const locked = await board('/', { auth: { ...ADMIN, password: 'guess-5' }, from });
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers['retry-after']) > 0 && Number(locked.headers['retry-after']) <= 60, String(locked.headers['retry-after']));
    assert.match(locked.json<{ error: string }>().error, /Too many failed logins/);
    assert.equal((await board('/', { auth: ADMIN, from })).status, 429, 'right credentials are not checked while locked out');
    const spoofed = await board('/', { auth: ADMIN, from, headers: { 'x-forwarded-for': '203.0.113.7' } });
    assert.equal(spoofed.status, 429, 'X-Forwarded-For is not believed unless TRUST_PROXY says so');
    assert.equal((await http(`${base}/metrics`, { auth: TOKEN, from })).status, 429, 'one budget for board and /metrics');
    assert.equal((await board('/', { auth: ADMIN })).status, 200, 'other addresses are not affected');
  });

  it('GET /healthz is 200 without auth while Redis answers, 503 once it is gone', async () => {
    const up = await http(`${base}/healthz`);
    assert.equal(up.status, 200);
    assert.equal(up.json<{ status: string }>().status, 'ok');

    await redis.server.stop();
    const down = await waitFor(async () => {
      const res = await http(`${base}/healthz`);
      return res.status === 503 ? res : undefined;
    }, 'healthz 503', 10_000);
    assert.equal(down.json<{ redis: string }>().redis, 'down');
    const m = await metrics();
    assert.equal(m.get('jobcenter_redis_up'), 0);
    assert.equal(m.get('jobcenter_queue_jobs{queue="default",state="waiting"}'), undefined, 'no stale counts');
    // Nor stale schedule, oldest-waiting or timing series from the last scrape that reached Redis.
    const stale = [...m.keys()].filter((k) => k.startsWith('jobcenter_') && k !== 'jobcenter_redis_up');
    assert.deepEqual(stale, [], 'jobcenter_redis_up 0: the other series are absent');
    // The board's own API says so too: 503, not a 500 with an ioredis message.
    for (const [method, path] of [['GET', '/api/queues'], ['PUT', '/api/queues/batch/pause']] as const) {
      const res = await board(path, { method, auth: ADMIN });
      assert.equal(res.status, 503, `${method} ${path}: ${res.status} ${res.text}`);
      assert.match(res.text, /Redis is unreachable/);
      // The board's toast shows the translation of `error.key` as its title: a key its locale lacks
      // showed raw ("ERRORS.SERVICE_UNAVAILABLE").
      const key = res.json<{ error: { key: string } }>().error.key;
      assert.equal(typeof BOARD_MESSAGES.ERRORS[key.replace(/^ERRORS\./, '')], 'string', `the board UI has no text for ${key}`);
    }
    assert.deepEqual(server.lines.filter((l) => l.msg === 'Unhandled error'), [], 'the server survives Redis going away');
  });
});
