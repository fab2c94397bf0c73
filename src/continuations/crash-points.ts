import type { Config, CrashPoint } from '../config.js';

/**
 * Fault injection for the crash tests (`TEST_CRASH_AT=<step>`): the process SIGKILLs itself at
 * that step of a registration or a release, so the tests can prove that a crash between any two
 * steps leaves nothing or a complete registration, and that a release is finished by another
 * worker exactly once. Unset in production: one property read per step.
 */
export function crashPoint(config: Config, step: CrashPoint): void {
  if (config.testCrashAt === step) process.kill(process.pid, 'SIGKILL');
}
