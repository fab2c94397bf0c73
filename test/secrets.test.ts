import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { checkSecret, lowEntropyReason } from '../src/secrets.js';
import { Redis } from 'ioredis';
import { CenterProcess, ENTRIES, ProcessGroup, waitFor } from './support/processes.js';
import { startTestRedis } from './support/redis.js';
import { basicAuth, serverPort } from './support/scale.js';

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(Object.keys(env))} to be refused`);
}

const STRONG = 'Vq3n-xT9Lk2p_Wz7';

describe('weak secrets', () => {
  it('refuses common board passwords in every environment, naming the variable and how to generate one', () => {
    for (const NODE_ENV of ['development', 'test', 'production']) {
      for (const password of ['123456', 'password', 'admin', 'QWERTY', 'letmein', 'changeme']) {
        const msg = refusal({ NODE_ENV, BOARD_USER: 'root', BOARD_PASSWORD: password });
        assert.match(msg, /BOARD_PASSWORD=\(hidden\) is a common password/, `${NODE_ENV} ${password}`);
        assert.match(msg, /openssl rand -base64 24/);
        assert.ok(!msg.includes(JSON.stringify(password)), 'the password itself is not printed');
      }
      const viewer = refusal({ NODE_ENV, BOARD_USER: 'root', BOARD_PASSWORD: STRONG, BOARD_VIEWER_USER: 'v', BOARD_VIEWER_PASSWORD: 'letmein' });
      assert.match(viewer, /BOARD_VIEWER_PASSWORD=\(hidden\) is a common password/);
    }
  });

  it('refuses blank secrets and user names (only whitespace), in development too', () => {
    assert.match(refusal({ BOARD_USER: 'root', BOARD_PASSWORD: ' '.repeat(20) }), /BOARD_PASSWORD=\(hidden\) is blank/);
    assert.match(refusal({ BOARD_USER: '   ', BOARD_PASSWORD: STRONG }), /BOARD_USER=.* is blank \(only whitespace\): set a user name/);
    assert.match(refusal({ ALERT_WEBHOOK_SECRET: '\t'.repeat(20) }), /ALERT_WEBHOOK_SECRET=\(hidden\) is blank/);
  });

  it('refuses a password equal to its user name', () => {
    assert.match(refusal({ BOARD_USER: 'operator', BOARD_PASSWORD: 'Operator' }), /BOARD_PASSWORD=\(hidden\) must differ from BOARD_USER/);
  });

  it('in production also refuses passwords shorter than 12 characters or of low entropy', () => {
    const prod = { NODE_ENV: 'production', BOARD_USER: 'root' };
    assert.match(refusal({ ...prod, BOARD_PASSWORD: 'Xk9-w2Lq' }), /BOARD_PASSWORD=\(hidden\) is shorter than 12 characters \(8\)/);
    assert.match(refusal({ ...prod, BOARD_PASSWORD: STRONG, BOARD_VIEWER_USER: 'v', BOARD_VIEWER_PASSWORD: '1' }), /BOARD_VIEWER_PASSWORD/);
    assert.match(refusal({ ...prod, BOARD_PASSWORD: 'aaaaaaaaaaaaaaaa' }), /one character repeated/);
    assert.equal(loadConfig({ ...prod, BOARD_PASSWORD: STRONG }).server.board.admin?.password, STRONG);
    // Development keeps short passwords usable for local work (the server warns).
    assert.equal(loadConfig({ BOARD_USER: 'root', BOARD_PASSWORD: 'pw-admin' }).server.board.admin?.password, 'pw-admin');
  });

  it('refuses low-entropy API tokens in production', () => {
    for (const token of ['1234567890123456', 'aaaaaaaaaaaaaaaaaaaa', 'abcdefghijklmnopqrst', 'qwertyuiopasdfghjkl', 'abababababababab', 'tokentokentokentoken', '1122112211221122']) {
      const msg = refusal({ NODE_ENV: 'production', API_TOKEN: token });
      assert.match(msg, /API_TOKEN=\(hidden\) .*too easy to guess.*openssl rand -base64 24/, token);
      assert.ok(!msg.includes(token));
    }
    // Outside production the same token is accepted (length is still checked by the schema).
    assert.equal(loadConfig({ API_TOKEN: '1234567890123456' }).server.apiToken, '1234567890123456');
  });

  it('refuses a low-entropy ALERT_WEBHOOK_SECRET in production (anyone could sign alerts with it)', () => {
    for (const secret of ['aaaaaaaaaaaaaaaa', '1234567890123456', 'passwordpassword']) {
      const msg = refusal({ NODE_ENV: 'production', ALERT_WEBHOOK_URL: 'https://hooks.example.com/a', ALERT_WEBHOOK_SECRET: secret });
      assert.match(msg, /ALERT_WEBHOOK_SECRET=\(hidden\) .*too easy to guess.*openssl rand/, secret);
      assert.ok(!msg.includes(secret), 'the secret is not printed');
    }
    assert.doesNotThrow(() =>
      loadConfig({ NODE_ENV: 'production', ALERT_WEBHOOK_URL: 'https://hooks.example.com/a', ALERT_WEBHOOK_SECRET: randomBytes(32).toString('hex') }),
    );
  });

  it('a malformed API_TOKENS entry is named by its position, never by its text (a bare token was printed)', () => {
    const token = randomBytes(24).toString('hex');
    for (const value of [token, `reports:read:${randomBytes(24).toString('hex')},${token}`, `${token}:read`]) {
      const msg = refusal({ API_TOKENS: value });
      assert.match(msg, /API_TOKENS=\(hidden\)/);
      assert.ok(!msg.includes(token), msg);
    }
  });

  it('accepts random values as generated by openssl rand, hex or base64, and by npm start', () => {
    for (let i = 0; i < 2000; i++) {
      for (const value of [
        randomBytes(12).toString('base64url'),
        randomBytes(16).toString('hex'),
        randomBytes(24).toString('base64'),
        randomBytes(9).toString('base64'),
      ]) {
        assert.equal(lowEntropyReason(value), undefined, value);
        assert.equal(checkSecret('API_TOKEN', value, 'production'), undefined, value);
        assert.equal(checkSecret('BOARD_PASSWORD', value, 'production'), undefined, value);
      }
    }
  });

  it('checkSecret names the variable and infers the kind from it', () => {
    assert.match(checkSecret('BOARD_PASSWORD', 'password', 'development') ?? '', /^BOARD_PASSWORD is a common password.*openssl rand/);
    assert.equal(checkSecret('API_TOKEN', 'password', 'development'), undefined);
    assert.match(checkSecret('API_TOKENS[ci]', '1234567890123456', 'production') ?? '', /^API_TOKENS\[ci\] is mostly a run/);
  });

  it('a production server with BOARD_PASSWORD=123456 does not start', async () => {
    const p = new CenterProcess('server', ENTRIES.server, {
      NODE_ENV: 'production',
      BOARD_USER: 'admin',
      BOARD_PASSWORD: '123456',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    // Before the fix it started (with a warning) and kept running: bound the wait so that fails fast.
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    const { code } = await p.exited;
    clearTimeout(timer);
    assert.equal(code, 1, p.output());
    assert.match(p.output(), /BOARD_PASSWORD=\(hidden\) is a common password.*openssl rand -base64 24/);
    assert.doesNotMatch(p.output(), /Server listening/);
  });
});

describe('a bad REDIS_URL', () => {
  it('is refused without echoing its password, whatever characters the password holds', () => {
    // Passwords pasted without percent-encoding: base64 holds "/" (openssl rand -base64), people
    // type "@". These are the URLs that get refused, so their refusal must not print them.
    const secret = 'S3cr3tPart';
    for (const url of [
      `redis://:pa/${secret}@127.0.0.1:6379`,
      `redis://user:x/${secret}@127.0.0.1:6379/0`,
      `redis://user:p@${secret}@127.0.0.1:99999`,
      `rediss://user:${secret}/+=@127.0.0.1:99999`,
      `redis:/user:${secret}@127.0.0.1:6379`,
    ]) {
      const msg = refusal({ REDIS_URL: url });
      assert.match(msg, /REDIS_URL=/, url);
      assert.ok(!msg.includes(secret), `${url} printed its password: ${msg}`);
    }
  });
});

describe('Redis host lists', () => {
  it('refuse user info in REDIS_SENTINELS and REDIS_CLUSTER_NODES without echoing it (pw@host was taken for a host name)', () => {
    const secret = 'S3ntinelPw';
    for (const [name, value] of [
      ['REDIS_SENTINELS', `:${secret}@10.0.0.5:26379`],
      ['REDIS_SENTINELS', `10.0.0.4:26379,user:${secret}@10.0.0.5:26379`],
      ['REDIS_CLUSTER_NODES', `${secret}@10.0.0.11:6379`],
    ] as const) {
      const msg = refusal({ [name]: value, REDIS_SENTINEL_MASTER: 'mymaster' });
      assert.match(msg, new RegExp(`${name}=\\(hidden\\) .*without user or password`), msg);
      assert.ok(!msg.includes(secret), msg);
    }
  });
});

describe('ALERT_WEBHOOK_URL', () => {
  it('refuses a URL that fetch would refuse with an error quoting it (unparsable), without echoing it', () => {
    // Accepted before: every delivery then failed with fetch's "Failed to parse URL from <url>",
    // logged and kept in Redis as failedReason.
    const secret = 'H00kSecretPart';
    for (const url of [`http://[::1/${secret}`, `http://hook:${secret}@[::1/x`]) {
      const msg = refusal({ ALERT_WEBHOOK_URL: `https://ok.example.com/a,${url}`, ALERT_WEBHOOK_SECRET: 'Vq3n-xT9Lk2p_Wz7-aa' });
      assert.match(msg, /ALERT_WEBHOOK_URL=\(hidden\)/, url);
      assert.ok(!msg.includes(secret), `${url} printed: ${msg}`);
    }
    // Credentials in the URL are sent as Basic authentication (test/alerts.test.ts delivers to one).
    for (const url of ['https://hooks.example.com/services/T0/B0/abc?token=x', `http://hook:${secret}@127.0.0.1:9/alerts`]) {
      assert.doesNotThrow(() => loadConfig({ ALERT_WEBHOOK_URL: url, ALERT_WEBHOOK_SECRET: 'Vq3n-xT9Lk2p_Wz7-aa' }));
    }
  });
});

describe('the Redis password in logs', () => {
  const right = randomBytes(18).toString('base64url');
  const wrong = `wrong${randomBytes(18).toString('base64url')}`;
  let redis: Awaited<ReturnType<typeof startTestRedis>>;
  let admin: Redis;
  const group = new ProcessGroup({});

  before(async () => {
    redis = await startTestRedis({ appendonly: false, args: ['--requirepass', right] });
    admin = new Redis(redis.port, '127.0.0.1', { password: right });
  });
  after(async () => {
    await group.stopAll();
    admin.disconnect();
    await redis.stop();
  });

  it('never appears in any process\'s output when Redis refuses it, however often the connections retry', async () => {
    const env = {
      REDIS_URL: `redis://:${wrong}@127.0.0.1:${redis.port}`,
      API_TOKEN: randomBytes(24).toString('base64url'),
      BOARD_USER: 'admin',
      BOARD_PASSWORD: STRONG,
      PORT: '0',
    };
    const procs = (['server', 'worker', 'producer'] as const).map((kind) => group.start(kind, env));
    // Every connection of every process has been refused several times (Redis counts them):
    // BullMQ printed the raw error, command arguments and password included, for a Queue without
    // an 'error' listener (the server's alert outbox) on each of these.
    const refusals = async () => Number(/errorstat_WRONGPASS:count=(\d+)/.exec(await admin.info('errorstats'))?.[1] ?? 0);
    await waitFor(async () => (await refusals()) >= 40, '40 refused logins', 30_000);
    // Meanwhile the board's API answers 503 within its 2 s wait (it hung: BullMQ waits for a 'ready').
    const port = await serverPort(procs[0]);
    const started = Date.now();
    const board = await fetch(`http://127.0.0.1:${port}/board/api/queues`, { headers: basicAuth('admin', STRONG), signal: AbortSignal.timeout(10_000) });
    assert.equal(board.status, 503, await board.text());
    assert.ok(Date.now() - started < 5000, `the board answered in ${Date.now() - started} ms`);
    for (const p of procs) {
      assert.ok(p.running, `${p.name} keeps retrying instead of exiting:\n${p.output()}`);
      const all = p.raw.join('\n');
      assert.ok(!all.includes(wrong), `${p.name} printed the Redis password:\n${p.output()}`);
    }
  });
});
