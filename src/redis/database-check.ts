import { Cluster } from 'ioredis';
import { ConfigError } from '../errors.js';
import type { RedisClient } from './connection.js';

/**
 * Checks that the connection uses the database REDIS_URL selects (`redis://host:6379/3`).
 *
 * A number the server does not have (it has `CONFIG GET databases`, 16 by default) makes ioredis
 * report the refused SELECT and carry on in database 0: the center then wrote its jobs and
 * schedules among whatever lives there, and read none of those in the database meant. The
 * connection's own database, as the server sees it (`CLIENT INFO`, Redis 6.2+), tells. A Cluster
 * has database 0 only and selects nothing; an older server is not checked.
 * @throws ConfigError naming REDIS_URL when the server did not select that database.
 */
export async function checkSelectedDatabase(redis: RedisClient): Promise<void> {
  if (redis instanceof Cluster) return;
  const wanted = redis.options.db ?? 0;
  let info: string;
  try {
    info = String(await redis.call('CLIENT', 'INFO'));
  } catch {
    return;
  }
  const db = /(?:^|\s)db=(\d+)/.exec(info)?.[1];
  if (db === undefined || Number(db) === wanted) return;
  throw new ConfigError([
    {
      field: 'REDIS_URL',
      message:
        `REDIS_URL selects database ${wanted}, which this Redis refused (it uses database ${db}): the number after the address is a ` +
        'database index, below the server\'s "databases" setting (16 by default); use one it has, or none for 0',
    },
  ]);
}
