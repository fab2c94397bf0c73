import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { startServer } from './board-support.js';
import { historyKey } from '../src/schedules/history.js';
import { useTestCenter } from './support/center.js';
import { CenterProcess, waitFor, type ProcessGroup } from './support/processes.js';
import { WebhookReceiver, type Received } from './support/webhook.js';

/*
 * Schedule and queue alerts end to end: real server, producer and worker processes, real Redis,
 * and a local webhook receiver that verifies every signature. Detection runs in the servers and
 * producers; one of them holds the lease at a time.
 */

const SECRET = 'webhook-secret-for-tests-0123456789';
const BOARD = { BOARD_USER: 'admin', BOARD_PASSWORD: 'admin-password-for-tests' };
const center = useTestCenter();
const receivers: WebhookReceiver[] = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

/** A webhook receiver, closed after the file. */
async function startReceiver(): Promise<WebhookReceiver> {
  const receiver = await WebhookReceiver.start(SECRET);
  receivers.push(receiver);
  return receiver;
}

async function setup(extra: Record<string, string> = {}, webhookUrl: (r: WebhookReceiver) => string = (r) => r.url) {
  const receiver = await startReceiver();
  const ctx = await center.setup({
    ...BOARD,
    ALERT_WEBHOOK_URL: webhookUrl(receiver),
    ALERT_WEBHOOK_SECRET: SECRET,
    DETECTOR_INTERVAL_MS: '1000',
    ALERT_RETRY_DELAY_MS: '200',
    ALERT_RETRY_MAX_DELAY_MS: '2000',
    ...extra,
  });
  // Each test stops its processes when it ends: the next one should not share the machine with them.
  cleanups.push(() => ctx.group.stopAll());
  return { ...ctx, receiver };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** A producer process of a service that declares no schedules (it still runs a detector). */
function producer(group: ProcessGroup, env: Record<string, string>, id: string): CenterProcess {
  const p = new CenterProcess(`producer:${id}`, 'test/fixtures/producer.ts', { ...env, PRODUCER_ID: id, FIXTURE_SCHEDULES: '[]' });
  group.all.push(p);
  return p;
}

/** Every string stored under `prefix` (hash fields and values, strings, lists, sets, streams), for secrets checks. */
async function redisText(prefix: string): Promise<string> {
  const redis = center.redis.client;
  const out: string[] = [];
  for (const key of await redis.keys(`${prefix}*`)) {
    const type = await redis.type(key);
    if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'string') out.push((await redis.get(key)) ?? '');
    else if (type === 'list') out.push(...(await redis.lrange(key, 0, -1)));
    else if (type === 'set') out.push(...(await redis.smembers(key)));
    else if (type === 'zset') out.push(...(await redis.zrange(key, '0', '-1')));
    else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return out.join('\n');
}

const countBy = (alerts: Received[]) => {
  const out: Record<string, number> = {};
  for (const a of alerts) out[`${a.type} ${a.schedule ?? a.queue}`] = (out[`${a.type} ${a.schedule ?? a.queue}`] ?? 0) + 1;
  return out;
};

describe('schedule alerts', () => {
  it('an always-failing schedule: one schedule.failed soon after its first final failure, not one per tick; recovered when it succeeds', async () => {
    const { env, group, client, receiver } = await setup();
    await startServer(group, env);
    await group.start('worker').waitForMessage('Worker started', 30_000);
    await client.recurring.upsert('doomed', { every: 1500 }, 'fail', { message: 'always' });
    const firstFailure = await waitFor(async () => (await client.recurring.runs('doomed')).at(-1), 'a final failure', 30_000);
    const alert = await receiver.waitFor((a) => a.type === 'schedule.failed' && a.schedule === 'doomed', 'schedule.failed');
    const delay = Date.now() - Date.parse(firstFailure.finishedAt!);
    assert.ok(delay < 10_000, `alerted ${delay} ms after the final failure`);
    assert.equal(alert.severity, 'error');
    assert.match(alert.message, /always/);
    assert.equal(alert.details.attempts, 3);
    assert.match(alert.text, /schedule\.failed/);
    // More failing ticks: still one alert.
    await waitFor(async () => (await client.recurring.runs('doomed')).length >= 4, 'three more failures', 40_000);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(receiver.of('schedule.failed', 'doomed').length, 1, JSON.stringify(countBy(receiver.alerts)));
    // It succeeds again: one schedule.recovered naming the incident.
    await client.recurring.upsert('doomed', { every: 1500 }, 'fail', { message: 'fixed', times: 0 });
    const recovered = await receiver.waitFor((a) => a.type === 'schedule.recovered' && a.schedule === 'doomed', 'schedule.recovered', 30_000);
    assert.equal(recovered.details.incident, alert.id);
    assert.equal(recovered.details.recovers, 'schedule.failed');
    const listed = await client.alerts.list();
    const incident = listed.find((i) => i.id === alert.id);
    assert.ok(incident?.recoveredAt, JSON.stringify(listed));
    assert.deepEqual(receiver.badSignatures, []);
  });

  it('two servers and two producers, no worker: one schedule.overdue (2 s schedule, 3 s grace) within 15 s; a worker brings one schedule.recovered', async () => {
    const { env, group, client, receiver } = await setup();
    // One after the other: four processes compiling at once on a loaded 2-core machine may not log in time.
    await startServer(group, env);
    await startServer(group, env);
    await producer(group, env, 'a').waitForMessage('Schedules synced', 60_000);
    await producer(group, env, 'b').waitForMessage('Schedules synced', 60_000);
    const declared = Date.now();
    await client.recurring.upsert('stuck', { every: 2000 }, 'hello-world', {}, { grace: 3000 });
    const overdue = await receiver.waitFor((a) => a.type === 'schedule.overdue' && a.schedule === 'stuck', 'schedule.overdue', 30_000);
    assert.ok(Date.now() - declared < 15_000, `overdue after ${Date.now() - declared} ms`);
    assert.equal(overdue.severity, 'critical');
    assert.equal(overdue.details.graceMs, 3000);
    assert.equal((await client.recurring.get('stuck'))!.health, 'overdue');
    await group.start('worker').waitForMessage('Worker started', 30_000);
    const recovered = await receiver.waitFor((a) => a.type === 'schedule.recovered' && a.schedule === 'stuck', 'schedule.recovered', 30_000);
    assert.equal(recovered.details.incident, overdue.id);
    await new Promise((r) => setTimeout(r, 3000)); // several more passes of four detectors
    const counts = countBy(receiver.alerts);
    assert.equal(counts['schedule.overdue stuck'], 1, JSON.stringify(counts));
    assert.equal(counts['schedule.recovered stuck'], 1, JSON.stringify(counts));
    assert.equal(new Set(receiver.alerts.map((a) => a.id)).size, receiver.alerts.length, 'no alert id twice');
    const incidents = await client.alerts.list();
    assert.ok(incidents.some((i) => i.id === overdue.id && i.recoveredAt));
  });

  it('a pending tick deleted behind the center\'s back is re-created, with schedule.repaired, within one detection interval', async () => {
    const interval = 2000;
    const { env, group, client, receiver } = await setup({ DETECTOR_INTERVAL_MS: String(interval) });
    const server = await startServer(group, env);
    await client.recurring.upsert('fragile', { every: 3_600_000 }, 'hello-world', {});
    const queue = client.queues.get('default');
    const jobs = await waitFor(async () => {
      const j = await queue.getJobs(['delayed', 'waiting']);
      return j.length === 1 ? j : undefined;
    }, 'the pending tick');
    const lost = String(jobs[0]!.id);
    // Behind the center's back: straight in Redis, as a stray script or a manual cleanup would.
    const prefix = `${client.queues.config.prefix}:default`;
    await center.redis.client.multi().zrem(`${prefix}:delayed`, lost).lrem(`${prefix}:wait`, 0, lost).del(`${prefix}:${lost}`).exec();
    const deletedAt = Date.now();
    const repaired = await receiver.waitFor((a) => a.type === 'schedule.repaired' && a.schedule === 'fragile', 'schedule.repaired', 15_000);
    const took = Date.now() - deletedAt;
    // One interval, plus what the loaded test machine adds for the delivery itself.
    assert.ok(took < interval + 2500, `repaired ${took} ms after the deletion (interval ${interval} ms)`);
    assert.equal(repaired.details.repaired, true);
    assert.match(repaired.message, /pending tick job is gone/);
    const pending = await queue.getJobs(['delayed', 'waiting']);
    assert.equal(pending.length, 1, 'one pending tick again');
    assert.notEqual(String(pending[0]!.id), lost);
    const audit = server.proc.lines.find((l) => l.audit === true && l.action === 'recurring.repair');
    assert.equal(audit?.schedule, 'fragile');
    assert.equal(audit?.result, 'ok');
    assert.ok((await client.alerts.list()).some((i) => i.type === 'schedule.repaired' && i.schedule === 'fragile'));
    await new Promise((r) => setTimeout(r, interval * 2));
    assert.equal(receiver.of('schedule.repaired', 'fragile').length, 1, 'repaired once');
  });

  it("a schedule whose whole BullMQ scheduler was deleted behind the center's back is re-created from its kept definition, with schedule.repaired", async () => {
    const interval = 1000;
    const { env, group, client, receiver } = await setup({ DETECTOR_INTERVAL_MS: String(interval) });
    await startServer(group, env);
    await client.recurring.upsert('orphan', { cron: '0 3 * * *', tz: 'Europe/Berlin' }, 'scheduler-test', { note: 'kept' });
    const before = await client.recurring.get('orphan');
    // A schedule of another service sharing this prefix, on a queue this catalog does not have: the
    // detector leaves it to that service (it made every pass fail).
    const foreign = { queue: 'other-service', overlap: 'allow', owner: null, spec: { repeat: { every: 60_000 }, name: 'their-job', data: {} } };
    await center.redis.client.hset(`${client.queues.config.prefix}:jc:schedules`, 'theirs', JSON.stringify(foreign));
    // The scheduler and its pending tick, gone (a stray `removeJobScheduler`, a partial key cleanup);
    // the center's definition stays. It was invisible: GET answered 404 for good and no alert came.
    assert.equal(await client.queues.get('default').removeJobScheduler('orphan'), true);
    assert.equal(await client.recurring.get('orphan'), undefined);
    const repaired = await receiver.waitFor((a) => a.type === 'schedule.repaired' && a.schedule === 'orphan', 'schedule.repaired', 15_000);
    assert.equal(repaired.details.repaired, true);
    assert.match(repaired.message, /job scheduler is gone/);
    const after = await client.recurring.get('orphan');
    assert.deepEqual({ ...after, lastRun: null, health: null }, { ...before, lastRun: null, health: null }, 'the same schedule again');
    // Paused and removed schedules are no orphans.
    await client.recurring.pause('orphan');
    await client.recurring.upsert('gone', { every: 3_600_000 }, 'hello-world', {});
    await client.recurring.remove('gone');
    await new Promise((r) => setTimeout(r, interval * 3));
    assert.equal(receiver.of('schedule.repaired', 'orphan').length, 1, 'repaired once');
    assert.equal(receiver.of('schedule.repaired', 'gone').length, 0);
    assert.equal((await client.recurring.get('orphan'))?.paused, true);
    assert.equal(await client.recurring.get('gone'), undefined);
  });
  it('a schedule definition that is not JSON (a foreign or damaged entry) does not silence the alerts of every other schedule', async () => {
    const { env, group, client, receiver } = await setup();
    await startServer(group, env);
    // Invalid definitions were ignored, but one that did not parse as JSON failed every pass.
    await center.redis.client.hset(`${client.queues.config.prefix}:jc:schedules`, 'damaged', '{not json');
    await client.recurring.upsert('still-watched', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    await receiver.waitFor((a) => a.type === 'schedule.overdue' && a.schedule === 'still-watched', 'schedule.overdue', 20_000);
    assert.ok((await client.recurring.list()).some((s) => s.id === 'still-watched'));
  });
  it('an incident entry that is not JSON silences no alert (its own condition\'s included), and GET /api/alerts lists the others', async () => {
    const token = 'api-token-for-alert-tests-7c1e';
    const { env, group, client, receiver } = await setup({ API_TOKEN: token });
    const server = await startServer(group, env);
    const redis = center.redis.client;
    const key = (name: string) => `${client.queues.config.prefix}:jc:alerts:${name}`;
    // One failed every pass (no alert raised nor recovered any more), the other failed every listing.
    await redis.hset(key('open'), 'schedule.failed|s:damaged', '{not json');
    // And one on the watched schedule's own condition: skipped, it still blocked that condition's
    // incident for good (HSETNX found the field taken).
    await redis.hset(key('open'), 'schedule.overdue|s:watched-beside-incident', '{not json');
    await redis.hset(key('incidents'), 'damaged-incident', '{not json');
    await redis.zadd(key('recent'), Date.now(), 'damaged-incident');
    await client.recurring.upsert('watched-beside-incident', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    await receiver.waitFor((a) => a.type === 'schedule.overdue' && a.schedule === 'watched-beside-incident', 'schedule.overdue', 20_000);
    const res = await fetch(`${server.base}/api/alerts?limit=10`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { incidents: { schedule?: string }[] };
    assert.ok(body.incidents.some((i) => i.schedule === 'watched-beside-incident'), JSON.stringify(body));
    assert.ok((await client.alerts.list()).some((i) => i.schedule === 'watched-beside-incident'));
  });
  it('a run history entry that is not JSON does not silence the alerts of every other schedule', async () => {
    const { env, group, client, receiver } = await setup();
    await startServer(group, env);
    await client.recurring.upsert('damaged-history', { every: 3_600_000 }, 'hello-world', {});
    // Listing the schedules read each one's last run: a damaged entry failed every pass.
    await center.redis.client.lpush(historyKey(client.queues.config, 'default', 'damaged-history'), '{not json');
    await client.recurring.upsert('watched-beside', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    await receiver.waitFor((a) => a.type === 'schedule.overdue' && a.schedule === 'watched-beside', 'schedule.overdue', 20_000);
    assert.equal((await client.recurring.get('damaged-history'))?.lastRun, null);
  });
  it('a server whose clock runs 2 minutes ahead raises no schedule.overdue for a schedule that runs on time', async () => {
    const { env, group, client, receiver } = await setup({ DETECTOR_INTERVAL_MS: '500' });
    // The worker consumes `default` only: a schedule of `batch` is really overdue, and shows the detector at work.
    await group.start('worker', { WORKER_QUEUES: 'default' }).waitForMessage('Worker started', 30_000);
    await client.recurring.upsert('on-time', { every: 1000 }, 'hello-world', {}, { grace: 5000 });
    await waitFor(async () => (await client.recurring.get('on-time'))?.lastRun?.outcome === 'completed', 'a run of on-time', 20_000);
    const skewed = { ...env, NODE_OPTIONS: `--import=${resolve('test/fixtures/skewed-clock.mjs')}`, CLOCK_SKEW_MS: '120000' };
    await startServer(group, skewed);
    await client.recurring.upsert('really-late', { every: 1000 }, 'sleep', { ms: 1 }, { grace: 3000 });
    await receiver.waitFor((a) => a.type === 'schedule.overdue' && a.schedule === 'really-late', 'schedule.overdue of really-late', 30_000);
    await new Promise((r) => setTimeout(r, 2000)); // four more passes
    // The detector judged "overdue" by its own clock: every schedule with a grace under the skew was.
    assert.deepEqual(receiver.of('schedule.overdue', 'on-time'), []);
    assert.equal((await client.recurring.get('on-time'))?.health, 'ok');
  });
});

describe('queue alerts', () => {
  it('a burst of failures with none after it: one queue.failure_rate within a few passes', async () => {
    const { env, group, client, receiver } = await setup();
    await startServer(group, env);
    await group.start('worker').waitForMessage('Worker started', 30_000);
    const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => client.enqueue('fail', { message: `burst ${i}` }, { attempts: 1 })));
    await waitFor(async () => (await Promise.all(ids.map((id) => client.getJob(id)))).every((j) => j?.state === 'failed'), 'the burst failed', 30_000);
    const failedAt = Date.now();
    // BullMQ writes a minute's count when a job finishes in a later minute: the counts of the
    // minute in progress (and of the last one, when no job came after it) were never read.
    const alert = await receiver.waitFor((a) => a.type === 'queue.failure_rate' && a.queue === 'default', 'queue.failure_rate', 15_000);
    assert.ok(Date.now() - failedAt < 10_000, `alerted ${Date.now() - failedAt} ms after the burst`);
    assert.equal(alert.severity, 'error');
    assert.equal(alert.details.failed, 25);
    assert.equal(alert.details.total, 25);
    await new Promise((r) => setTimeout(r, 2500)); // more passes: still one alert
    assert.equal(receiver.of('queue.failure_rate', 'default').length, 1, JSON.stringify(countBy(receiver.alerts)));
  });
});

/** The hash of webhook target claims (src/alerts/delivery.ts). */
const claimsKey = (client: { queues: { config: { prefix: string } } }) => `${client.queues.config.prefix}:jc:alerts:targets`;

/** Until `n` claims stand: each delivering process has claimed its URL. */
const claimsStand = (client: { queues: { config: { prefix: string } } }, n: number) =>
  waitFor(async () => (await center.redis.client.hlen(claimsKey(client))) === n, `${n} webhook target claims`, 10_000, 20);

describe('alert delivery and the detector lease', () => {
  it('a receiver that refuses for 30 s, while every process restarts, later gets every alert exactly once', { timeout: 180_000 }, async () => {
    const { env, group, client, receiver } = await setup();
    receiver.refuse = true;
    const first = await startServer(group, env);
    for (const id of ['late-a', 'late-b']) await client.recurring.upsert(id, { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    await waitFor(async () => (await client.alerts.list()).filter((i) => i.type === 'schedule.overdue').length === 2, 'two incidents', 30_000);
    await waitFor(() => receiver.refused >= 4, 'refused deliveries', 30_000);
    // Every process goes away and a new one comes while the receiver is still down.
    await first.proc.stop();
    await startServer(group, env);
    const refusing = Date.now();
    // A timer may fire a millisecond early by the wall clock: wait until 30 s have passed by it.
    while (Date.now() - refusing < 30_000) await new Promise((r) => setTimeout(r, 30_000 - (Date.now() - refusing)));
    const refused = receiver.refused;
    receiver.refuse = false;
    assert.ok(refused >= 6, `the receiver refused ${refused} deliveries`);
    assert.ok(Date.now() - refusing >= 30_000);
    await receiver.waitFor((a) => a.schedule === 'late-a', 'late-a overdue', 30_000);
    await receiver.waitFor((a) => a.schedule === 'late-b', 'late-b overdue', 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(countBy(receiver.alerts), { 'schedule.overdue late-a': 1, 'schedule.overdue late-b': 1 });
  });

  it('a webhook URL with user:password@ gets its alerts with Basic auth; its credentials and token are never logged nor kept in Redis', async () => {
    // A second URL with credentials that refuses connections: its failures are logged and kept in Redis.
    const unreachable = 'http://other-user:pw-of-unreachable-55@127.0.0.1:1/hook?token=query-token-of-unreachable';
    const { env, group, client, receiver } = await setup({}, (r) => `${r.urlWithCredentials('hook-user', 'hook-pass-3f9a1c')}?token=query-token-77e2,${unreachable}`);
    const server = await startServer(group, env);
    await client.recurring.upsert('guarded', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    // fetch refuses a URL with credentials: every attempt failed and the alert never came.
    const alert = await receiver.waitFor((a) => a.type === 'schedule.overdue' && a.schedule === 'guarded', 'schedule.overdue', 20_000);
    assert.equal(receiver.authorizations[receiver.alerts.indexOf(alert)], `Basic ${Buffer.from('hook-user:hook-pass-3f9a1c').toString('base64')}`);
    const failed = await server.proc.waitForMessage('Alert delivery failed; will retry', 20_000);
    assert.match(String(failed.err), /could not be reached/);
    // Its error named the whole URL, in the log and in the job's failedReason and stacktrace.
    const secrets = ['hook-pass-3f9a1c', 'query-token-77e2', 'pw-of-unreachable-55', 'query-token-of-unreachable'];
    const logs = server.proc.raw.join('\n');
    const stored = await redisText(client.queues.config.prefix);
    for (const secret of secrets) {
      assert.ok(!logs.includes(secret), `${secret} in the server's log: ${logs.split('\n').find((l) => l.includes(secret))}`);
      assert.ok(!stored.includes(secret), `${secret} in Redis`);
    }
  });

  it('a detector in a process without ALERT_WEBHOOK_URL queues its alerts for the URLs other running processes deliver to', async () => {
    const { env, group, client, receiver } = await setup();
    const { ALERT_WEBHOOK_URL: _url, ...withoutUrl } = env;
    // The process without a URL holds the lease (it starts first); the one with it only delivers.
    const a = producer(group, withoutUrl, 'a');
    await a.waitForMessage('Detector lease taken', 30_000);
    const b = producer(group, env, 'b');
    await b.waitForMessage('Schedules synced', 30_000);
    const claims = claimsKey(client);
    await claimsStand(client, 1);
    await client.recurring.upsert('no-url-holder', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    // Before, the holder queued nothing: no URL of its own.
    await receiver.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'no-url-holder', 'schedule.overdue from the holder without a URL', 20_000);
    assert.ok(a.lines.some((l) => String(l.msg).startsWith('Detector lease taken')) && !b.lines.some((l) => String(l.msg).startsWith('Detector lease taken')), 'a raised it');
    // A stopped process's claim is kept a while (a restart keeps its deliveries), then expires.
    await b.stop();
    const [[, at], [seconds]] = [Object.entries(await center.redis.client.hgetall(claims))[0]!, await center.redis.client.time()];
    const expiresIn = Number(at) + 90_000 - Number(seconds) * 1000;
    assert.ok(expiresIn > 25_000 && expiresIn <= 31_000, `the stopped process's claim expires in ${expiresIn} ms`);
  });

  it('two processes with different webhook URLs: each URL gets the alert once, and neither spends an attempt on the other\'s', async () => {
    const { env, group, client, receiver: first } = await setup();
    const second = await startReceiver();
    const a = producer(group, env, 'a');
    const b = producer(group, { ...env, ALERT_WEBHOOK_URL: second.url }, 'b');
    await Promise.all([a, b].map((p) => p.waitForMessage('Schedules synced', 30_000)));
    await claimsStand(client, 2);
    await client.recurring.upsert('two-urls', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    for (const r of [first, second]) await r.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'two-urls', 'schedule.overdue', 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    for (const r of [first, second]) assert.deepEqual(countBy(r.alerts), { 'schedule.overdue two-urls': 1 });
    for (const p of [a, b]) assert.ok(!p.lines.some((l) => String(l.msg).startsWith('Alert delivery failed')), `${p.name} failed a delivery`);
  });

  it("a lease holder whose clock runs 2 minutes ahead still queues its alerts for the other processes' webhook URLs", async () => {
    const { env, group, client, receiver: first } = await setup();
    const second = await startReceiver();
    const skewed = { ...env, ALERT_WEBHOOK_URL: second.url, NODE_OPTIONS: `--import=${resolve('test/fixtures/skewed-clock.mjs')}`, CLOCK_SKEW_MS: '120000' };
    // b starts first and holds the lease; a, on time, only delivers to its URL.
    const b = producer(group, skewed, 'b');
    await b.waitForMessage('Detector lease taken', 30_000);
    const a = producer(group, env, 'a');
    await a.waitForMessage('Schedules synced', 30_000);
    await claimsStand(client, 2);
    await client.recurring.upsert('skewed-holder', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    await second.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'skewed-holder', 'schedule.overdue at the holder\'s URL', 20_000);
    // b judged a's claim by its own clock: two minutes old, a process gone, so a's URL got nothing.
    // Within 30 s: a delivery the holder takes it hands back (not its URL), and BullMQ promotes a
    // delayed job by the taking worker's clock, so the holder, 2 minutes ahead, takes it again at
    // once, and the other process gets it only when it fetches first (CI once missed 10 s).
    await first.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'skewed-holder', 'schedule.overdue at the other process\'s URL', 30_000);
    assert.ok(!a.lines.some((l) => l.msg === 'Alert redirected: no running process has its webhook URL any more'), 'a redirected a delivery');
  });

  it('after a Redis outage longer than a claim lives, each process claims its webhook URL again at once: both URLs get the next alert', async () => {
    const { env, group, client, receiver: first } = await setup();
    const second = await startReceiver();
    const a = producer(group, env, 'a');
    await a.waitForMessage('Detector lease taken', 30_000);
    const b = producer(group, { ...env, ALERT_WEBHOOK_URL: second.url }, 'b');
    await b.waitForMessage('Schedules synced', 30_000);
    const claims = claimsKey(client);
    const redis = center.redis.client;
    await claimsStand(client, 2);
    // The claims as an outage of 100 s leaves them (no renewal reached Redis): older than their
    // 90 s life. A Redis that comes back without them (no persistence, a failover) is the same.
    const [seconds] = await redis.time();
    const aged = Number(seconds) * 1000 - 100_000;
    for (const field of Object.keys(await redis.hgetall(claims))) await redis.hset(claims, field, String(aged));
    await center.redis.restart();
    await Promise.all([a, b].map((p) => p.waitForMessage('Redis connection restored', 20_000)));
    // Renewed within moments, not at the next 30 s renewal; and no process's renewal deleted its own
    // claim (stale when read, renewed, then dropped as stale).
    await waitFor(async () => Object.values(await redis.hgetall(claims)).filter((at) => Number(at) > aged).length === 2, 'both claims renewed', 5_000, 20);
    // The test's own client reconnects too (it fails fast while it has not).
    await client.ready();
    await client.recurring.upsert('after-outage', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    for (const r of [first, second]) await r.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'after-outage', 'schedule.overdue', 20_000);
    assert.ok(![a, b].some((p) => p.lines.some((l) => String(l.msg).startsWith('Alert redirected'))), 'a delivery was redirected');
  });

  it('a process restarted gracefully (same URL) gets the deliveries that waited for its URL, not the other process\'s URL', async () => {
    const { env, group, client, receiver: mine } = await setup();
    const others = await startReceiver();
    mine.refuse = true;
    // The server holds the lease (it starts first) and delivers to another URL.
    const server = await startServer(group, { ...env, ALERT_WEBHOOK_URL: others.url });
    await server.proc.waitForMessage('Detector lease taken', 30_000);
    const a = producer(group, env, 'a');
    await a.waitForMessage('Schedules synced', 30_000);
    await claimsStand(client, 2);
    await client.recurring.upsert('restarted', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    await others.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'restarted', 'the alert at the other URL', 20_000);
    await waitFor(() => mine.refused >= 1, "a refused delivery to the producer's URL", 20_000, 20);
    // A deploy: stopped, started again 8 s later with the same URL (longer than the delivery's
    // retry delay, 2 s at most here, plus a worker's 5 s wait for its next job: the server takes
    // the waiting delivery meanwhile).
    await a.stop();
    await new Promise((r) => setTimeout(r, 8000));
    mine.refuse = false;
    producer(group, env, 'a2');
    await mine.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'restarted', "the alert at the restarted producer's URL", 30_000);
    assert.ok(!server.proc.lines.some((l) => String(l.msg).startsWith('Alert redirected')), 'the server did not redirect it');
  });

  it('deliveries queued for a webhook URL that no running process has any more go to the URL that replaced it, once', async () => {
    const { env, group, client, receiver: old } = await setup();
    const replacement = await startReceiver();
    old.refuse = true;
    const a = producer(group, env, 'a');
    await a.waitForMessage('Detector lease taken', 30_000);
    await client.recurring.upsert('url-rotated', { every: 1000 }, 'hello-world', {}, { grace: 1000 });
    await waitFor(() => old.refused >= 1, 'a refused delivery to the old URL', 20_000, 20);
    await a.stop();
    // The URL changed (a rotated token): the pending delivery was failed by every process that
    // lacked it, then dropped.
    const b = producer(group, { ...env, ALERT_WEBHOOK_URL: replacement.url }, 'b');
    // After the stopped process's 30 s of grace (it could have been a restart with the same URL).
    const alert = await replacement.waitFor((x) => x.type === 'schedule.overdue' && x.schedule === 'url-rotated', 'the alert at the new URL', 60_000);
    await b.waitForMessage('Alert redirected: no running process has its webhook URL any more', 5_000);
    // Once: the incident was open already (b raises no second alert), and the redirect is keyed.
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(countBy(replacement.alerts), { 'schedule.overdue url-rotated': 1 });
    assert.equal(old.alerts.length, 0);
    assert.ok(!b.lines.some((l) => l.msg === 'Alert delivery failed; will retry'), 'no attempt spent on the old URL in b');
    assert.ok(alert.id);
  });

  it('one detector holds the lease; when its process is SIGKILLed another takes over within one interval', async () => {
    const interval = 2000;
    const { env, group } = await setup({ DETECTOR_INTERVAL_MS: String(interval) });
    const a = producer(group, env, 'a');
    const b = producer(group, env, 'b');
    await Promise.all([a.waitForMessage('Schedules synced', 30_000), b.waitForMessage('Schedules synced', 30_000)]);
    const taken = (p: CenterProcess) => p.lines.some((l) => String(l.msg).startsWith('Detector lease taken'));
    await waitFor(() => taken(a) || taken(b), 'a lease holder', 10_000);
    await new Promise((r) => setTimeout(r, interval));
    assert.equal([a, b].filter(taken).length, 1, 'exactly one holder');
    const [holder, other] = taken(a) ? [a, b] : [b, a];
    holder.kill('SIGKILL');
    const killedAt = Date.now();
    await other.waitForMessage('Detector lease taken', 10_000);
    const took = Date.now() - killedAt;
    assert.ok(took <= interval + 500, `taken over after ${took} ms (interval ${interval} ms)`);
  });

  it('a pass longer than the lease does not let a second detector in: the holder keeps its lease while it works', async () => {
    // A 200 ms interval: a lease of 120 ms, renewed every 40 ms; a pass over 400 schedules takes longer.
    const interval = 200;
    const { env, group, client } = await setup({ DETECTOR_INTERVAL_MS: String(interval) });
    for (let i = 0; i < 400; i++) await client.recurring.upsert(`many-${i}`, { every: 3_600_000 }, 'hello-world', {});
    const a = producer(group, env, 'a');
    const b = producer(group, env, 'b');
    await Promise.all([a.waitForMessage('Schedules synced', 30_000), b.waitForMessage('Schedules synced', 30_000)]);
    const events = () => [a, b].flatMap((p) => p.lines.filter((l) => String(l.msg).startsWith('Detector lease')).map((l) => `${p.name}: ${String(l.msg)}`));
    await waitFor(() => events().length > 0, 'a lease holder', 10_000);
    // Passes ran back to back while the holder renewed nothing: the lease passed to and fro about
    // once per pass, 19 times in these 4 s. A loaded 2-core CI machine (four test files and the
    // fault suite beside this one) still stalls an event loop past the 120 ms lease now and then:
    // 5, 9 and 10 events were seen there. Up to 14 (the bug made 19) are stalls, not the bug.
    await new Promise((r) => setTimeout(r, interval * 20));
    assert.ok(events().length <= 14, `${events().length} lease events:\n${events().join('\n')}`);
  });
});
