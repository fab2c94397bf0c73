import { after, before } from 'node:test';
import { pino } from 'pino';
import { JobCenterClient } from '../../src/client.js';
import { loadConfig, type Config } from '../../src/config.js';
import { ProcessGroup } from './processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './redis.js';

/** A config for the test process itself, from the same variables the processes read. */
export function testConfig(env: Record<string, string>): Config {
  return loadConfig({ LOG_LEVEL: 'silent', ...env });
}

export const silentLogger = pino({ level: 'silent' });

/** A client in the test process, talking to the test Redis under the test's prefix. */
export async function testClient(env: Record<string, string>): Promise<JobCenterClient> {
  const client = new JobCenterClient(testConfig(env), silentLogger);
  await client.queues.ready();
  return client;
}

/**
 * The usual shape of an end-to-end test file: one private Redis for the file (started in `before`,
 * stopped in `after`), and per test a unique prefix, a process group and a client, all cleaned up.
 */
export function useTestCenter(options: { appendonly?: boolean } = {}) {
  let redis: TestRedis | undefined;
  const groups: ProcessGroup[] = [];
  const clients: JobCenterClient[] = [];
  before(async () => {
    redis = await startTestRedis(options);
  });
  after(async () => {
    await Promise.all(groups.map((g) => g.stopAll()));
    await Promise.all(clients.map((c) => c.close()));
    await redis?.stop();
  });
  return {
    get redis(): TestRedis {
      if (!redis) throw new Error('useTestCenter: Redis is not started yet (use it inside a test)');
      return redis;
    },
    /** A fresh prefix, process group and client for one test. */
    async setup(extra: Record<string, string> = {}) {
      const env: Record<string, string> = { REDIS_URL: this.redis.url, QUEUE_PREFIX: uniquePrefix(), ...extra };
      const group = new ProcessGroup(env);
      groups.push(group);
      const client = await testClient(env);
      clients.push(client);
      return { env, group, client };
    },
  };
}
