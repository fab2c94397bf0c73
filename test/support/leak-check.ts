/**
 * The leak check every test file gets: loaded with `--import` by `npm test`, `npm run test:faults`
 * and `npm run test:one` (see test/support/README.md), so a new test file needs nothing to use it.
 *
 * After the file's tests and its own `after` hooks, a last hook looks for what the file left behind
 * (waiting up to 3 s for things being closed) and fails the file naming each leak:
 * - open handles that keep a process alive (sockets, servers, child process handles, ref'd timers:
 *   `process.getActiveResourcesInfo()`, named through the handles themselves);
 * - signal listeners added to `process` and not removed (a Lifecycle never shut down);
 * - child processes still running (killed here, so they cannot outlive the run).
 * A file that leaked, or that is still alive 10 s after a clean check, has its process ended with
 * exit code 1, so it fails instead of hanging the run (see exitIfStillAlive; the scripts do not pass
 * `--test-force-exit`).
 * LEAK_CHECK_STACKS=1 also prints where each leaked timer was created (slower: it tracks every
 * async resource).
 */
import { createHook } from 'node:async_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';

const GRACE_MS = 3000;
/**
 * How long a file's process may live on after a clean leak check. Nothing the check can see is open
 * by then, so the process normally ends within milliseconds; this only catches what the check
 * cannot name, which would otherwise hang the whole run (the scripts no longer pass
 * `--test-force-exit`, see exitIfStillAlive).
 */
const EXIT_GRACE_MS = 10_000;
/** After a leak is reported: time for the failure to reach the runner before the process is ended. */
const REPORT_MS = 2000;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

interface HandleLike {
  constructor: { name: string };
  hasRef?: () => boolean;
  destroyed?: boolean;
  listening?: boolean;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  address?: () => unknown;
  pid?: number;
  spawnargs?: string[];
  exitCode?: number | null;
  signalCode?: string | null;
}

// Handles are not in the public API; `_getActiveHandles` is the only way to name them.
const activeHandles = (): HandleLike[] =>
  (process as unknown as { _getActiveHandles?: () => HandleLike[] })._getActiveHandles?.() ?? [];

function describeHandle(h: HandleLike): string | undefined {
  if (typeof h.hasRef === 'function' && !h.hasRef()) return undefined; // does not keep the process alive
  switch (h.constructor.name) {
    case 'Socket':
      if (h.destroyed) return undefined; // closing already
      return h.remotePort
        ? `socket ${h.localAddress}:${h.localPort} -> ${h.remoteAddress}:${h.remotePort} (a client never closed?)`
        : 'socket';
    case 'Server':
      return h.listening ? `server listening on ${JSON.stringify(h.address?.())}` : undefined;
    case 'ChildProcess':
      return h.exitCode === null && h.signalCode === null ? `child process ${h.pid} (${h.spawnargs?.join(' ')})` : undefined;
    default:
      return h.constructor.name;
  }
}

/** Where each live timer was created; filled only with LEAK_CHECK_STACKS=1. */
const timerStacks = new Map<number, { resource: { hasRef?: () => boolean }; stack: string }>();
if (process.env.LEAK_CHECK_STACKS === '1') {
  createHook({
    init(id, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      const stack = (new Error().stack ?? '').split('\n').slice(3, 9).join('\n');
      timerStacks.set(id, { resource: resource as { hasRef?: () => boolean }, stack });
    },
    destroy(id) {
      timerStacks.delete(id);
    },
  }).enable();
}

/** Tools the harness itself runs (tsx's esbuild service), not started by a test. */
const HARNESS_CHILDREN = /esbuild --service/;

/** Running (not zombie) children of this process, from /proc (Linux). */
function liveChildren(): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || fields[0] === 'Z') continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (!HARNESS_CHILDREN.test(cmd)) out.push({ pid: Number(entry), cmd });
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/** What this process holds now that it did not hold at start-up, one line each. */
export function findLeaks(baseline: { handles: ReadonlySet<unknown>; signals: ReadonlyMap<string, number> }): string[] {
  const leaks: string[] = [];
  for (const h of activeHandles()) {
    if (baseline.handles.has(h)) continue;
    const what = describeHandle(h);
    if (what) leaks.push(`open handle: ${what}`);
  }
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  if (timers > 0) {
    const where = [...timerStacks.values()].filter((t) => t.resource.hasRef?.() !== false).map((t) => `\n    created at\n${t.stack}`);
    leaks.push(
      `open handle: ${timers} pending timer(s) (setTimeout/setInterval never cleared or unref'd)` +
        (where.length > 0 ? where.join('') : '; LEAK_CHECK_STACKS=1 shows where they were created'),
    );
  }
  for (const signal of SIGNALS) {
    const extra = process.listenerCount(signal) - (baseline.signals.get(signal) ?? 0);
    if (extra > 0) leaks.push(`${extra} ${signal} listener(s) on process (a Lifecycle never shut down?)`);
  }
  for (const child of liveChildren()) leaks.push(`child process still running: ${child.pid} ${child.cmd}`);
  return leaks;
}

/**
 * Ends this file's process with exit code 1 (the runner then fails the file) if it is still alive
 * `ms` from now. The timer is unref'd, so it never keeps the process alive itself: it fires only
 * when something else does. This replaces `--test-force-exit`, which the scripts no longer pass:
 * with `--test-concurrency` it could end a file's process before the runner had the verdicts of its
 * last tests (nodejs/node#64833), so tests went missing from the count. Here a file that exits by
 * itself (every file should) is never cut short; one that cannot fails, naming what kept it alive,
 * instead of hanging `npm test`.
 */
function exitIfStillAlive(ms: number, why: string, baseline: Parameters<typeof findLeaks>[0]): void {
  setTimeout(() => {
    const what = findLeaks(baseline).filter((l) => l.startsWith('open handle'));
    process.stderr.write(
      `Leak check: ${process.argv[1] ?? 'this test file'}: ${why} its process was still alive ${ms} ms later; ending it.\n` +
        `  active resources: ${process.getActiveResourcesInfo().join(', ')}\n${what.map((l) => `  - ${l}\n`).join('')}`,
    );
    process.exit(1);
  }, ms).unref();
}

type Fn = (...args: unknown[]) => unknown;

/**
 * Registers `check` to run after the file's last top-level `after` hook. node:test runs a file's
 * top-level `after` hooks in the order they were registered, so the check is re-registered behind
 * every top-level `after` the file adds; only the last registration runs it. A call is top-level
 * when no test runner frame is on the stack (a suite's or a test's own `after` runs inside one).
 * Only `after` is wrapped: wrapping `it`/`describe` would move the "test at file:line" of every test
 * into this file. `syncBuiltinESMExports` makes `import { after } from 'node:test'` see the wrapper.
 */
function runAfterTheFile(check: () => Promise<void>): void {
  const nodeTest = createRequire(import.meta.url)('node:test') as Record<string, Fn>;
  const after = nodeTest.after!;
  let last = 0;
  const guarded = (seq: number) => () => (seq === last ? check() : undefined);
  nodeTest.after = function (this: unknown, ...args: unknown[]) {
    const result = after.apply(this, args);
    if (!/node:internal\/test_runner/.test(new Error().stack ?? '')) after.call(this, guarded(++last));
    return result;
  };
  syncBuiltinESMExports();
  after(guarded(0)); // a file with no top-level `after` of its own
}

// Only in a file's own process under `node --test` (not in the runner that spawns the files).
if (process.env.NODE_TEST_CONTEXT) {
  const baseline = {
    handles: new Set<unknown>(activeHandles()),
    signals: new Map(SIGNALS.map((s) => [s, process.listenerCount(s)])),
  };
  runAfterTheFile(async () => {
    // Sockets and processes a hook just closed take a moment to go: give them up to GRACE_MS.
    const deadline = Date.now() + GRACE_MS;
    let leaks = findLeaks(baseline);
    while (leaks.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      leaks = findLeaks(baseline);
    }
    if (leaks.length === 0) {
      exitIfStillAlive(EXIT_GRACE_MS, 'the leak check found nothing open, yet', baseline);
      return;
    }
    for (const child of liveChildren()) {
      try {
        process.kill(child.pid, 'SIGKILL'); // so it cannot outlive the run
      } catch {
        // already gone
      }
    }
    // What leaked may keep the process alive for good: end it once the failure is reported.
    exitIfStillAlive(REPORT_MS, 'it leaked (above), and', baseline);
    throw new Error(`Leak check: ${process.argv[1] ?? "this test file"} left behind\n${leaks.map((l) => `  - ${l}`).join('\n')}`);
  });
}
