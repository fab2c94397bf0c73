import type { RedisClient } from './connection.js';

type Command = (numKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

/** The commands defined on each connection so far. */
const defined = new WeakMap<RedisClient, Set<string>>();

/**
 * A Lua script of the center, run with EVALSHA: ioredis defines it as a command the first time a
 * connection runs it, sends the body only when Redis lacks it (after a restart or SCRIPT FLUSH) and
 * its SHA otherwise. A plain EVAL sent the whole body, and Redis hashed it, on every call.
 */
export class RedisScript {
  readonly #command: string;

  /** `name`: unique among the center's scripts (it becomes the command's name, prefixed `jc`). */
  constructor(
    name: string,
    readonly lua: string,
  ) {
    this.#command = `jc${name}`;
  }

  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[] = []): Promise<unknown> {
    let names = defined.get(redis);
    if (!names) defined.set(redis, (names = new Set()));
    if (!names.has(this.#command)) {
      redis.defineCommand(this.#command, { lua: this.lua });
      names.add(this.#command);
    }
    const command = (redis as unknown as Record<string, Command>)[this.#command]!;
    return command.call(redis, keys.length, ...keys, ...args);
  }
}
