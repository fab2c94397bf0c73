import { Redis } from 'ioredis';
import { ConfigError } from '../errors.js';
import type { RedisClient } from './connection.js';

/*
 * The database REDIS_URL selects (`redis://host:6379/3`), checked at start.
 *
 * A number the server does not have (below its `databases` setting, 16 by default) makes ioredis
 * report the refused SELECT as a connection error and carry on in database 0: the center then
 * wrote its jobs and schedules among whatever lives there, and read none of those in the database
 * meant. The refusal comes while the connection is set up, before it is ready, so it is noted
 * then and read at start without a command of its own (a command would wait behind BullMQ's first
 * writes while Redis pauses writes, as in a failover).
 */

const refused = new WeakSet<RedisClient>();

/** Notes a connection's refused SELECT. Called once per connection, as it is made. */
export function watchSelect(client: RedisClient): void {
  client.on('error', (err: Error) => {
    if (/DB index is out of range|invalid DB index/i.test(err.message)) refused.add(client);
  });
}

/**
 * @throws ConfigError naming REDIS_URL when the server refused the connection's database.
 */
export function checkSelectedDatabase(client: RedisClient): void {
  if (!refused.has(client)) return;
  const db = client instanceof Redis ? client.options.db : undefined;
  throw new ConfigError([
    {
      field: 'REDIS_URL',
      message:
        `REDIS_URL selects database ${db ?? '?'}, which this Redis refused (ERR DB index is out of range): the number after the ` +
        'address is a database index, below the server\'s "databases" setting (16 by default); use one it has, or none for 0',
    },
  ]);
}
