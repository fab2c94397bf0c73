import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { CenterProcess, ENTRIES } from './support/processes.js';
import { jobs } from '../contracts/index.js';

/** The config as the app's processes load it: with their job catalog. */
const load = (env: NodeJS.ProcessEnv) => loadConfig(env, { contracts: jobs });

function configError(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

describe('config', () => {
  it('applies documented defaults and freezes the result', () => {
    const c = load({});
    assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(c.prefix, 'jc');
    assert.equal(c.worker.concurrency, 5);
    assert.deepEqual(c.worker.queues, ['default', 'batch']);
    assert.equal(c.log.level, 'info');
    assert.equal(c.server.board.admin, undefined);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.worker));
    assert.throws(() => {
      (c.worker as { concurrency: number }).concurrency = 9;
    });
  });

  it('treats empty values as unset, as a .env file with FOO= means', () => {
    assert.equal(load({ WORKER_CONCURRENCY: '' }).worker.concurrency, 5);
  });

  it('parses typed values', () => {
    const c = load({ WORKER_CONCURRENCY: '12', WORKER_QUEUES: 'batch', LOG_LEVEL: 'debug', QUEUE_PREFIX: 'my-app' });
    assert.equal(c.worker.concurrency, 12);
    assert.deepEqual(c.worker.queues, ['batch']);
    assert.equal(c.log.level, 'debug');
    assert.equal(c.prefix, 'my-app');
  });

  it('names the variable, the value and what is allowed', () => {
    const err = configError({ WORKER_CONCURRENCY: 'many', LOG_LEVEL: 'loud' });
    assert.match(err.message, /WORKER_CONCURRENCY="many" must be a whole number from 1 to 1000/);
    assert.match(err.message, /LOG_LEVEL="loud"/);
    assert.match(err.message, /fatal.*silent/);
    assert.deepEqual(err.details.map((d) => d.field).sort(), ['LOG_LEVEL', 'WORKER_CONCURRENCY']);
  });

  it('rejects out-of-range numbers, bad URLs, prefixes and unknown queues', () => {
    assert.match(configError({ WORKER_CONCURRENCY: '0' }).message, /WORKER_CONCURRENCY="0"/);
    assert.match(configError({ REDIS_URL: 'localhost:6379' }).message, /REDIS_URL=.*redis:\/\//);
    assert.match(configError({ QUEUE_PREFIX: 'a:b' }).message, /QUEUE_PREFIX/);
    assert.match(configError({ WORKER_QUEUES: 'default,nope' }).message, /unknown queue "nope".*default, batch/);
    // These exited with "Invalid URL", "URI malformed" or "invalid IP address: foo" and no variable
    // named, ran on db 0 or flapped forever, or served a board nobody could reach.
    for (const [env, pattern] of [
      [{ REDIS_URL: 'redis://u:pw@h:99999' }, /REDIS_URL=.*port must be 1-65535/],
      [{ REDIS_URL: 'redis://:pa%ss@h:1' }, /REDIS_URL=.*percent-encoding/],
      [{ REDIS_URL: 'redis://h:6379/abc' }, /REDIS_URL=.*database as a number/],
      [{ REDIS_CLUSTER_NODES: 'a:99999' }, /REDIS_CLUSTER_NODES=.*1 to 65535/],
      [{ REDIS_SENTINELS: 'a:0', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS=.*1 to 65535/],
      [{ TRUST_PROXY: 'foo' }, /TRUST_PROXY="foo" must be false, true/],
      [{ HOST: ' '.repeat(3) }, /HOST=" {3}" must not be empty or blank/],
      [{ BOARD_TITLE: '  ' }, /BOARD_TITLE=.* must not be empty or blank/],
      [{ TRUST_PROXY: '10.0.0.0/99' }, /TRUST_PROXY=/],
      [{ BOARD_BASE_PATH: '/api' }, /BOARD_BASE_PATH="\/api" must not be .*server's own paths/],
      [{ BOARD_BASE_PATH: '/metrics/board' }, /BOARD_BASE_PATH=/],
      // Accepted, it capped every retry below the first delay: the attempts ran out in seconds.
      [{ ALERT_RETRY_DELAY_MS: '200', ALERT_RETRY_MAX_DELAY_MS: '10' }, /ALERT_RETRY_MAX_DELAY_MS=.*must be at least ALERT_RETRY_DELAY_MS \(200\)/],
    ] as const) {
      assert.match(configError(env).message, pattern, JSON.stringify(env));
    }
    assert.equal(load({ TRUST_PROXY: 'loopback, 10.0.0.0/8,::1' }).server.trustProxy, 'loopback, 10.0.0.0/8,::1');
    assert.equal(load({ REDIS_URL: 'redis://u:p%40ss@h:6380/2' }).redis.url, 'redis://u:p%40ss@h:6380/2');
    assert.equal(load({ BOARD_BASE_PATH: '/apis' }).server.board.basePath, '/apis');
  });

  it('rejects half-set credentials and Sentinel without a master name', () => {
    assert.match(configError({ BOARD_USER: 'admin' }).message, /BOARD_PASSWORD.*must be set together with BOARD_USER/);
    assert.match(configError({ BOARD_VIEWER_PASSWORD: 'x' }).message, /BOARD_VIEWER_USER/);
    assert.match(configError({ REDIS_SENTINELS: '127.0.0.1:26379' }).message, /REDIS_SENTINEL_MASTER/);
  });

  it('never prints secrets in errors', () => {
    const err = configError({ API_TOKEN: 'short' });
    assert.match(err.message, /API_TOKEN=\(hidden\) must be at least 16 characters/);
    assert.doesNotMatch(err.message, /short/);
  });

  it('refuses an API token with whitespace or control characters, which no Authorization header can carry (it was accepted and never matched)', () => {
    for (const env of <Record<string, string>[]>[
      { API_TOKEN: ' Zq8vK2mP9xL4tR7wY1nB' },
      { API_TOKEN: 'Zq8vK2mP9xL4tR7wY1nB ' },
      { API_TOKEN: 'Zq8vK2mP9x L4tR7wY1nB' },
      { API_TOKEN: 'Zq8vK2mP9x\tL4tR7wY1nB' },
      { API_TOKENS: 'ops:admin:Zq8vK2mP9x L4tR7wY1nB' },
      { API_TOKENS: 'ops:admin:Zq8vK2mP9x\u0007L4tR7wY1nB' },
    ]) {
      const err = configError(env);
      assert.match(err.message, /must not hold spaces, tabs or control characters/, JSON.stringify(env));
      assert.doesNotMatch(err.message, /Zq8vK2mP9x/, 'the token is not shown');
    }
    assert.equal(load({ API_TOKENS: 'ops:admin:Zq8vK2mP9x:L4tR7wY1nB' }).server.apiTokens[0]?.token, 'Zq8vK2mP9x:L4tR7wY1nB', 'visible characters, ":" included, are fine');
  });

  for (const kind of ['worker', 'producer'] as const) {
    it(`${kind} process exits 1 with the message on a bad variable`, async () => {
      const p = new CenterProcess(kind, ENTRIES[kind], { WORKER_CONCURRENCY: '-3', REDIS_URL: 'redis://127.0.0.1:1' });
      const { code } = await p.exited;
      assert.equal(code, 1, p.output());
      assert.match(p.output(), /WORKER_CONCURRENCY="-3" must be a whole number/);
    });
  }
});

describe('.env.example and secrets in messages (issue 10)', () => {
  it('copying .env.example to .env changes nothing: it loads to the same config as an empty environment', async () => {
    const { parse } = await import('dotenv');
    const { readFileSync } = await import('node:fs');
    const example = parse(readFileSync(new URL('../.env.example', import.meta.url)));
    assert.equal(example.REDIS_URL, undefined, 'REDIS_URL must stay commented out (it stops npm start from starting its own Redis)');
    assert.deepEqual(load(example), load({}));
  });

  it('a malformed REDIS_URL is reported without its password', () => {
    const err = (() => {
      try {
        load({ REDIS_URL: 'redis://app:s3cret-pw-0123@bad host:6379' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assert.ok(err, 'expected a ConfigError');
    assert.match(err.message, /REDIS_URL/);
    assert.match(err.message, /app:\*\*\*@/);
    assert.doesNotMatch(err.message, /s3cret-pw-0123/);
  });

  it('a REDIS_URL whose password holds a space (refused by the pattern) is reported without its password', () => {
    for (const url of ['redis://app:my s3cret-pw@h:6379', 'redis://app:s3cret-pw @h:6379', 'redis://:\ts3cret-pw@h:6379/0', 'redis://app:s3cret @pw/x@h:6379']) {
      assert.throws(
        () => load({ REDIS_URL: url }),
        (e: Error) => {
          assert.match(e.message, /REDIS_URL="redis:\/\/(app)?:\*\*\*@h:6379/, e.message);
          assert.doesNotMatch(e.message, /s3cret/, e.message);
          return true;
        },
      );
    }
  });

  it('EXPOSE_ERROR_STACKS is off unless set to true, whatever NODE_ENV says', () => {
    assert.equal(load({ NODE_ENV: 'development' }).server.exposeErrorStacks, false);
    assert.equal(load({ EXPOSE_ERROR_STACKS: 'true' }).server.exposeErrorStacks, true);
    assert.throws(() => load({ EXPOSE_ERROR_STACKS: 'yes' }), /EXPOSE_ERROR_STACKS/);
  });
});
