import { after, before } from 'node:test';
import { pino } from 'pino';
import { JobCenterClient, type JobInfo, type JobRef } from '../../src/client.js';
import { Continuations } from '../../src/continuations/index.js';
import { Queues } from '../../src/queues.js';
import { Schedules } from '../../src/schedules.js';
import { loadConfig, type Config } from '../../src/config.js';
import { jobs, type Jobs } from '../../contracts/index.js';
import { ProcessGroup, waitFor } from './processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './redis.js';

/** A config for the test process itself, from the same variables the processes read, with the app's catalog. */
/** Waits until job `ref` has ended (completed or failed) and returns it. */
export function jobSettled(client: JobCenterClient, ref: JobRef, timeoutMs: number, what = `${ref.queue}/${ref.id} finished`): Promise<JobInfo> {
  return waitFor(async () => {
    const job = await client.getJob(ref);
    return job?.state === 'completed' || job?.state === 'failed' ? job : undefined;
  }, what, timeoutMs);
}

export function testConfig(env: Record<string, string>): Config {
  return loadConfig({ LOG_LEVEL: 'silent', ...env }, { contracts: jobs });
}

export const silentLogger = pino({ level: 'silent' });

/**
 * A client for tests, plus what tests inspect below the public API (the client keeps its own
 * private): BullMQ queues, schedules and continuations on a second connection, same prefix.
 */
export type TestClient = JobCenterClient<Jobs> & {
  readonly queues: Queues;
  readonly schedules: Schedules;
  readonly continuations: Continuations;
};

/** A client in the test process, talking to the test Redis under the test's prefix. */
export async function testClient(env: Record<string, string>): Promise<TestClient> {
  const config = testConfig(env);
  const client = new JobCenterClient<Jobs>(config, silentLogger);
  const queues = new Queues(config, silentLogger);
  const close = client.close.bind(client);
  const test = Object.assign(client, {
    queues,
    schedules: new Schedules(queues),
    continuations: new Continuations(queues, silentLogger),
    close: async () => {
      await Promise.all([close(), queues.close()]);
    },
  });
  await Promise.all([client.ready(), queues.ready()]);
  return test;
}

/**
 * The process groups and clients of one test file, stopped and closed (in that order) by
 * `close()`: what `useTestCenter` and `useTestCluster` hand out per test.
 */
export function fileResources() {
  const groups: ProcessGroup[] = [];
  const clients: TestClient[] = [];
  return {
    /** A process group stopped when the file ends. */
    group(env: NodeJS.ProcessEnv): ProcessGroup {
      const group = new ProcessGroup(env);
      groups.push(group);
      return group;
    },
    /** A test client closed when the file ends. */
    async client(env: Record<string, string>): Promise<TestClient> {
      const client = await testClient(env);
      clients.push(client);
      return client;
    },
    async close(): Promise<void> {
      await Promise.all(groups.map((g) => g.stopAll()));
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/**
 * The usual shape of an end-to-end test file: one private Redis for the file (started in `before`,
 * stopped in `after`), and per test a unique prefix, a process group and a client, all cleaned up.
 */
export function useTestCenter(options: { appendonly?: boolean } = {}) {
  let redis: TestRedis | undefined;
  const resources = fileResources();
  before(async () => {
    redis = await startTestRedis(options);
  });
  after(async () => {
    await resources.close();
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
      const group = resources.group(env);
      const client = await resources.client(env);
      return { env, group, client };
    },
  };
}
