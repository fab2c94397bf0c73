import { pino } from 'pino';
import { JobCenterClient } from '../../src/client.js';
import { loadConfig, type Config } from '../../src/config.js';

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
