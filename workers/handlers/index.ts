import type { BoundHandler } from '../../src/runtime/handler.js';
import fail from './fail.js';
import helloWorld from './hello-world.js';
import schedulerTest from './scheduler-test.js';
import sleep from './sleep.js';

/** Every handler this worker knows; add yours here after declaring its contract. */
export const handlers: readonly BoundHandler[] = [helloWorld, schedulerTest, sleep, fail];
