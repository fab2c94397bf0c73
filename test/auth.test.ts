import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { after, describe, it } from 'node:test';
import { freePort } from '../src/redis/redis-server.js';
import { boardAction, resultOf } from '../src/server/audit.js';
import { AuthFailures, bearerToken, boardAccounts, requireBearer, safeEqual, trustProxyRisk } from '../src/server/auth.js';
import { checkServerConfig } from '../src/server/board.js';
import { http } from './board-support.js';
import { testConfig } from './support/center.js';
import { ProcessGroup } from './support/processes.js';

/*
 * The pieces of board authentication that need no Redis: secret comparison, account lookup,
 * naming of audited board actions, and the server's refusal to start without credentials
 * (checked before any connection opens, so these processes get a Redis URL nobody listens on).
 */

const group = new ProcessGroup({});
after(() => group.stopAll());

describe('secrets and accounts', () => {
  it('safeEqual compares exactly, whatever the lengths', () => {
    assert.equal(safeEqual('s3cret', 's3cret'), true);
    for (const other of ['s3cre', 's3cret ', 'S3cret', '', 's3cret'.repeat(10)]) assert.equal(safeEqual(other, 's3cret'), false, other);
  });

  it('bearerToken reads only a well-formed Bearer header', () => {
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    for (const h of [undefined, '', 'Basic abc', 'Bearer', 'Bearer a b']) assert.equal(bearerToken(h), undefined, String(h));
  });

  it('identifies the admin and the viewer by user and password together', () => {
    const { identify } = boardAccounts(
      testConfig({ BOARD_USER: 'root', BOARD_PASSWORD: 'pw-admin', BOARD_VIEWER_USER: 'guest', BOARD_VIEWER_PASSWORD: 'pw-view' }),
    );
    assert.deepEqual(identify('root', 'pw-admin'), { user: 'root', role: 'admin' });
    assert.deepEqual(identify('guest', 'pw-view'), { user: 'guest', role: 'viewer' });
    assert.equal(identify('root', 'pw-view'), undefined);
    assert.equal(identify('guest', 'pw-admin'), undefined);
    assert.equal(identify('', ''), undefined);
    const adminOnly = boardAccounts(testConfig({ BOARD_USER: 'root', BOARD_PASSWORD: 'pw-admin' }));
    assert.equal(adminOnly.identify('guest', 'pw-view'), undefined);
  });
});

describe('bearer token with a failed-login budget', () => {
  it('counts wrong tokens (not missing ones) and then answers 429 even to the right token', async () => {
    const failures = new AuthFailures(2, 60_000);
    const app = express().get('/', requireBearer('right-token', failures), (_req, res) => void res.send('ok'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      assert.equal((await http(url, { auth: 'right-token' })).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await http(url)).status, 401, 'missing token');
      for (const t of ['wrong-1', 'wrong-2']) {
        const res = await http(url, { auth: t });
        assert.equal(res.status, 401);
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="job-center"');
      }
      assert.equal((await http(url, { auth: 'right-token' })).status, 429);
      assert.equal((await http(url, { auth: 'right-token', from: '127.0.0.4' })).status, 200, 'per address');
    } finally {
      server.close();
      failures.close();
    }
  });
});

describe('TRUST_PROXY', () => {
  it('parses to what express "trust proxy" accepts, trusting no proxy by default', () => {
    const trust = (v?: string) => testConfig(v === undefined ? {} : { TRUST_PROXY: v }).server.trustProxy;
    assert.deepEqual([trust(), trust('false'), trust('true'), trust('1'), trust('loopback, 10.0.0.0/8')], [
      false, false, true, 1, 'loopback, 10.0.0.0/8',
    ]);
    assert.throws(() => trust('$(rm -rf)'), /TRUST_PROXY/);
  });

  it('true is warned about at start (any client picks its address), a hop count or addresses are not', () => {
    assert.match(trustProxyRisk(true) ?? '', /believes every X-Forwarded-For.*TRUST_PROXY=1/);
    for (const safe of [false, 1, 'loopback, 10.0.0.0/8']) assert.equal(trustProxyRisk(safe), undefined);
  });
});

describe('audit naming of board requests', () => {
  it('names every Bull Board write route with its queue, job or schedule', () => {
    const cases: [string, string, Record<string, string>][] = [
      ['PUT', '/api/queues/pause', { action: 'board.queues.pause-all' }],
      ['PUT', '/api/queues/resume', { action: 'board.queues.resume-all' }],
      ['POST', '/api/queues/default/add', { action: 'board.job.add', queue: 'default' }],
      ['PUT', '/api/queues/default/retry/failed', { action: 'board.queue.retry-all', queue: 'default', detail: 'status=failed' }],
      ['PUT', '/api/queues/batch/clean/completed', { action: 'board.queue.clean-all', queue: 'batch', detail: 'status=completed' }],
      ['PUT', '/api/queues/default/promote', { action: 'board.queue.promote-all', queue: 'default' }],
      ['PUT', '/api/queues/default/pause', { action: 'board.queue.pause', queue: 'default' }],
      ['PUT', '/api/queues/default/obliterate', { action: 'board.queue.obliterate', queue: 'default' }],
      ['PUT', '/api/queues/default/rate-limit/release', { action: 'board.queue.rate-limit-release', queue: 'default' }],
      ['PUT', '/api/queues/default/job-schedulers/heartbeat/run', { action: 'board.scheduler.run', queue: 'default', schedule: 'heartbeat' }],
      ['PUT', '/api/queues/default/job-schedulers/heartbeat/remove', { action: 'board.scheduler.remove', queue: 'default', schedule: 'heartbeat' }],
      ['PATCH', '/api/queues/default/job-schedulers/heartbeat', { action: 'board.scheduler.update', queue: 'default', schedule: 'heartbeat' }],
      ['PUT', '/api/queues/default/42/retry', { action: 'board.job.retry', queue: 'default', job: '42' }],
      ['PUT', '/api/queues/default/42/clean', { action: 'board.job.remove', queue: 'default', job: '42' }],
      ['PUT', '/api/queues/default/repeat%3Ahb%3A1700000000000/promote', { action: 'board.job.promote', queue: 'default', job: 'repeat:hb:1700000000000' }],
      ['PATCH', '/api/queues/default/42/update-data', { action: 'board.job.update-data', queue: 'default', job: '42' }],
      ['DELETE', '/api/queues/default', { action: 'board.delete', detail: '/api/queues/default' }],
      ['POST', '/', { action: 'board.post', detail: '/' }],
    ];
    for (const [method, path, expected] of cases) assert.deepEqual(boardAction(method, path), expected, `${method} ${path}`);
  });

  it('maps statuses to ok / denied / error', () => {
    assert.deepEqual([200, 204, 302, 401, 403, 405, 429, 400, 404, 500].map(resultOf), [
      'ok', 'ok', 'ok', 'denied', 'denied', 'denied', 'denied', 'error', 'error', 'error',
    ]);
  });
});

describe('refusal to start without board credentials', () => {
  it('checkServerConfig refuses a missing admin in every environment and a viewer named like the admin', () => {
    for (const env of ['production', 'development', 'test']) {
      assert.throws(() => checkServerConfig(testConfig({ NODE_ENV: env })), /BOARD_USER and BOARD_PASSWORD/, env);
    }
    assert.throws(
      () => checkServerConfig(testConfig({ BOARD_USER: 'a', BOARD_PASSWORD: 'x', BOARD_VIEWER_USER: 'a', BOARD_VIEWER_PASSWORD: 'y' })),
      /BOARD_VIEWER_USER must differ from BOARD_USER/,
    );
    assert.doesNotThrow(() => checkServerConfig(testConfig({ BOARD_USER: 'a', BOARD_PASSWORD: 'x' })));
  });

  it('the server process exits 1 naming the variables, before connecting anywhere', async () => {
    const REDIS_URL = `redis://127.0.0.1:${await freePort()}`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ NODE_ENV: 'production' }, /BOARD_USER and BOARD_PASSWORD are required with NODE_ENV=production/],
      [{ NODE_ENV: 'production', BOARD_USER: 'admin' }, /BOARD_PASSWORD=\(unset\) must be set together with BOARD_USER/],
      [{ NODE_ENV: 'development' }, /BOARD_USER and BOARD_PASSWORD are not set.*npm start/],
    ];
    await Promise.all(
      cases.map(async ([env, message]) => {
        const proc = group.start('server', { ...env, REDIS_URL, PORT: '0' });
        const exit = await Promise.race([
          proc.exited,
          new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref()),
        ]);
        assert.deepEqual(exit, { code: 1, signal: null }, `${JSON.stringify(env)}:\n${proc.output()}`);
        assert.match(proc.output(), message, JSON.stringify(env));
        assert.doesNotMatch(proc.output(), /Server listening/);
      }),
    );
  });
});
