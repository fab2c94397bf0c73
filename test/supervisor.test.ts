import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../src/redis/redis-server.js';
import { CenterProcess, ENTRIES, waitFor } from './support/processes.js';

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Running, not merely a zombie waiting to be reaped (containers often have no reaping init). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * `npm start` with a private Redis on a free port, its AOF in a fresh folder, and `env` on top.
 * `kill()` SIGKILLs it and its children: a test that failed midway leaves no redis-server (detached)
 * or center process behind.
 */
async function startSupervisor(prefix: string, env: NodeJS.ProcessEnv = {}): Promise<{ sup: CenterProcess; redisPort: number; kill: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), `jc-${prefix}-`));
  dirs.push(dir);
  const redisPort = await freePort();
  const sup = new CenterProcess('supervisor', ENTRIES.supervisor, {
    LOCAL_REDIS_PORT: String(redisPort),
    LOCAL_REDIS_DIR: dir,
    PORT: String(await freePort()),
    QUEUE_PREFIX: prefix,
    ...env,
  });
  const kill = (): void => {
    for (const pid of childrenOf(sup.child.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    sup.kill('SIGKILL');
  };
  return { sup, redisPort, kill };
}

describe('npm start (supervisor)', () => {
  it('starts a private Redis, producer, worker and server; heartbeat within 10 s; Ctrl-C leaves nothing behind', async () => {
    // LOG_FORMAT empty is unset, as in the config: the children log for people (pretty), as by default.
    const { sup, redisPort, kill } = await startSupervisor('startup', { LOG_FORMAT: '' });
    try {
      const t0 = Date.now();
      await sup.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes(`private redis-server on 127.0.0.1:${redisPort}`));
      await sup.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('[worker]') && l.msg.includes('Hello World!'), 15_000);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 10_000, `first heartbeat after ${elapsed} ms`);
      const heartbeat = sup.raw.find((l) => l.startsWith('[worker]') && l.includes('Hello World!'))!;
      assert.ok(!heartbeat.includes('"msg"'), `pretty, not JSON: ${heartbeat}`);
      assert.ok(sup.raw.some((l) => /Board login .*admin \/ \S{12,}/.test(l)), 'prints the generated board login');
      await sup.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('[server]') && l.msg.includes('Server listening'));
      const kids = childrenOf(sup.child.pid!);
      const cmd = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const cmds = kids.map(cmd);
      const ours: number[] = [];
      for (const part of ['redis-server', 'producers/main.ts', 'workers/main.ts', 'server/main.ts']) {
        const i = cmds.findIndex((c) => c.includes(part));
        assert.ok(i >= 0, `a child runs ${part}: ${cmds.join(' | ')}`);
        ours.push(kids[i]!);
      }
      const beats = () => sup.raw.filter((l) => l.includes('Hello World!')).length;
      const before = beats();
      await waitFor(() => beats() - before >= 2, 'the heartbeat to keep going (two more)', 10_000);

      sup.kill('SIGINT');
      const { code } = await sup.exited;
      assert.equal(code, 0, sup.output());
      assert.ok(sup.raw.some((l) => l.includes('Private redis-server stopped')));
      await waitFor(() => ours.every((pid) => !alive(pid)), 'every child to be gone', 5000).catch(() => {});
      assert.deepEqual(ours.filter(alive).map(cmd), [], 'no child process left behind');
    } finally {
      kill();
    }
  });

  it('restarts its private redis-server when it dies, and the heartbeat resumes; Ctrl-C then stops the new one too', async () => {
    const { sup, kill } = await startSupervisor('redisdies');
    const redisOf = () => childrenOf(sup.child.pid!).find((pid) => alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`redis-server`));
    try {
      await sup.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('[worker]') && l.msg.includes('Hello World!'), 30_000);
      const first = redisOf();
      assert.ok(first, 'a private redis-server runs');
      process.kill(first, 'SIGKILL');
      const beatsAtKill = sup.raw.filter((l) => l.includes('Hello World!')).length;
      // Before, nothing restarted it: every child reconnected forever to a Redis that was gone.
      await waitFor(() => sup.raw.filter((l) => l.includes('Hello World!')).length > beatsAtKill + 2, 'the heartbeat to resume on a restarted Redis', 30_000);
      const second = redisOf();
      assert.ok(second && second !== first, 'a new redis-server runs');

      sup.kill('SIGINT');
      assert.equal((await sup.exited).code, 0, sup.output());
      await waitFor(() => !alive(second), 'the restarted redis-server to stop with the supervisor', 5000).catch(() => {});
      assert.equal(alive(second), false, 'the restarted redis-server is not left behind');
    } finally {
      kill();
    }
  });

  it('exits 1 naming LOCAL_REDIS_PORT when its port is taken by something that is not Redis (a stack trace before)', async () => {
    const port = await freePort();
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => squatter.listen(port, '127.0.0.1', done));
    try {
      const sup = new CenterProcess('supervisor', ENTRIES.supervisor, { LOCAL_REDIS_PORT: String(port), LOCAL_REDIS_DIR: mkdtempSync(join(tmpdir(), 'jc-squat-')) });
      assert.equal((await sup.exited).code, 1, sup.output());
      assert.match(sup.output(), new RegExp(`127\\.0\\.0\\.1:${port} \\(LOCAL_REDIS_PORT\\): port ${port} is in use by something that is not Redis`));
      assert.doesNotMatch(sup.output(), /\n\s+at /, 'no stack trace');
    } finally {
      squatter.close();
    }
  });

  it('a second npm start (its server PORT taken) exits 1 naming PORT instead of restarting the server forever', async () => {
    // The server of a first `npm start`: what a second one in the same directory finds on PORT.
    const port = await freePort();
    const first = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => first.listen(port, '127.0.0.1', done));
    const { sup, kill } = await startSupervisor('second', { PORT: String(port) });
    try {
      // Before, a server that took over 3 s (tsx, a busy machine) to fail was restarted with backoff forever.
      const exited = await Promise.race([sup.exited, sup.waitForMessage('[supervisor] server exited', 60_000).then(() => undefined)]);
      assert.equal(exited?.code, 1, `the supervisor stops instead of restarting the server:\n${sup.output()}`);
      assert.match(sup.output(), new RegExp(`PORT=${port}: 127\\.0\\.0\\.1:${port} is already in use`));
      assert.match(sup.output(), /server could not start \(exit 1\); stopping/);
      assert.ok(sup.raw.some((l) => l.includes('Private redis-server stopped')), sup.output());
      assert.doesNotMatch(sup.output(), /\n\s+at /, 'no stack trace');
    } finally {
      kill();
      first.close();
    }
  });

  it('exits 1 with an actionable message on invalid configuration', async () => {
    const sup = new CenterProcess('supervisor', ENTRIES.supervisor, { WORKER_QUEUES: 'nope' });
    assert.equal((await sup.exited).code, 1);
    assert.match(sup.output(), /WORKER_QUEUES.*unknown queue "nope"/);
  });
});
