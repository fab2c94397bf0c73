import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../src/errors.js';
import { JobCenterClient } from '../src/client.js';
import { silentLogger, testClient, testConfig } from './support/center.js';
import { runCli } from './support/cli.js';
import { ProcessGroup } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * REDIS_URL's database number (`redis://host:port/5`) on a server that has fewer databases: ioredis
 * reports the refused SELECT and carries on in database 0, where the center then wrote everything.
 * Every process stops at start instead, naming REDIS_URL, and the client's ready() refuses.
 */

let redis: TestRedis;
const group = new ProcessGroup({});

before(async () => {
  redis = await startTestRedis({ args: ['--databases', '2'] });
});
after(async () => {
  await group.stopAll();
  await redis?.stop();
});

describe('a database REDIS_URL selects that the server does not have', () => {
  it('stops the worker, the producer and the server at start (exit 1 naming REDIS_URL); the CLI and the client refuse; an existing one works', async () => {
    const env = { REDIS_URL: `${redis.url}/5`, QUEUE_PREFIX: uniquePrefix(), BOARD_USER: 'admin', BOARD_PASSWORD: 'admin-password-for-tests' };
    const worker = group.start('worker', env);
    const producer = group.start('producer', env);
    const server = group.start('server', { ...env, PORT: '0' });
    for (const proc of [worker, producer, server]) {
      const { code } = await proc.exited;
      assert.equal(code, 1, `${proc.name}:\n${proc.output()}`);
      assert.match(proc.output(), /REDIS_URL selects database 5, which this Redis refused/, proc.name);
    }
    const cli = await runCli(['enqueue', 'hello-world'], env);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /REDIS_URL selects database 5/);
    const refused = new JobCenterClient(testConfig(env), silentLogger);
    const ready = await refused.ready().catch((err: unknown) => err);
    await refused.close();
    assert.ok(ready instanceof ConfigError, String(ready));
    // A database the server has is used, and nothing landed in database 0.
    const ok = await testClient({ ...env, REDIS_URL: `${redis.url}/1` });
    const job = await ok.enqueue('hello-world', {});
    assert.equal((await ok.getJob(job))?.name, 'hello-world');
    await ok.close();
    // BullMQ's Queue writes its queue's `meta` (library version) as it connects, before any check can
    // run; no job, schedule, lease or other key of the center lands in database 0.
    assert.deepEqual((await redis.client.keys('*')).filter((k) => !k.endsWith(':meta')), [], 'database 0 holds nothing of the center');
  });
});
