import type { EventEmitter } from 'node:events';

type Args<T, K extends keyof T> = T[K] extends unknown[] ? T[K] : never;

/**
 * Resolves with the arguments of the next `event` that `match` accepts (all of them when omitted);
 * fails naming `what` after `timeoutMs`. Start waiting before causing the event: past events are not
 * replayed. The listener and the timer are removed either way.
 */
export function nextEvent<T extends { [K in keyof T]: unknown[] }, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  event: K,
  match: (...args: Args<T, K>) => boolean = () => true,
  what = `the "${event}" event`,
  timeoutMs = 15_000,
): Promise<Args<T, K>> {
  const target = emitter as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (!match(...(args as Args<T, K>))) return;
      done();
      resolve(args as Args<T, K>);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      target.off(event, listener);
    };
    target.on(event, listener);
  });
}
