import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the first match of `pattern` in what `child` writes (stdout and stderr together),
 * for a child that says in its output when it is ready. Rejects, with the output's tail, when the
 * child exits or fails to start first, or after `timeoutMs`. The child's streams must be pipes.
 */
export function waitForOutput(child: ChildProcess, pattern: RegExp, what: string, timeoutMs: number): Promise<RegExpExecArray> {
  let output = '';
  return new Promise<RegExpExecArray>((resolve, reject) => {
    const done = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      settle();
    };
    const tail = () => output.slice(-2000);
    const timer = setTimeout(() => done(() => reject(new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${tail()}`))), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = pattern.exec(output);
      if (m) done(() => resolve(m));
    };
    const onExit = (code: number | null) => done(() => reject(new Error(`${what} exited with code ${code}:\n${tail()}`)));
    const onError = (err: Error) => done(() => reject(err));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
