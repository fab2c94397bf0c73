import { z } from 'zod';
import { defineJob, type ContractMap } from '../src/jobs/contract.js';

/*
 * The job catalog of this repository's app (`npm start`): every job type its producers, workers,
 * server and CLI know. The library (src/) knows none; it is given this map (`contracts`).
 * Add a job here, then its handler in workers/handlers/.
 */

export const helloWorld = defineJob({
  name: 'hello-world',
  queue: 'default',
  description: 'Heartbeat: logs "Hello World" with the current time.',
  schema: z.object({}).strict(),
  defaults: { attempts: 1, removeOnComplete: { age: 3600, count: 200 } },
});

export const schedulerTest = defineJob({
  name: 'scheduler-test',
  queue: 'default',
  description: 'Logs that the scheduled test ran.',
  schema: z.object({ note: z.string().max(200).optional() }).strict(),
});

export const sleep = defineJob({
  name: 'sleep',
  queue: 'batch',
  description: 'Waits `ms` while reporting progress, then returns { sleptMs, result }.',
  schema: z
    .object({
      ms: z.number().int().min(0).max(3_600_000),
      result: z.json().optional(),
    })
    .strict(),
});

export const fail = defineJob({
  name: 'fail',
  queue: 'default',
  description: 'Throws `message` on its first `times` attempts (every attempt if omitted), then succeeds.',
  schema: z
    .object({
      message: z.string().min(1).max(1000),
      times: z.number().int().min(0).optional(),
    })
    .strict(),
  defaults: { backoff: { type: 'fixed', delay: 200 } },
});

export const jobs = {
  [helloWorld.name]: helloWorld,
  [schedulerTest.name]: schedulerTest,
  [sleep.name]: sleep,
  [fail.name]: fail,
} as const satisfies ContractMap;

export type Jobs = typeof jobs;
export type JobName = keyof Jobs;
