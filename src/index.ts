/*
 * The public surface of the job center library. Services that hand work to the center import
 * the client and the contracts; workers import defineHandler and the runtime.
 */
export { createClient, JobCenterClient, ChainBuilder, type CreateClientOptions, type JobNameOf } from './client.js';
export type {
  BatchOptions,
  BatchOptionsOf,
  BulkJob,
  BulkJobOf,
  Created,
  EnqueueOptions,
  JobInfo,
  JobRef,
  ContinueOn,
  Repeat,
  OverlapPolicy,
  ScheduleInfo,
  RecurringOptions,
  RecurringOptionsOf,
  Health,
  RunOutcome,
  RunRecord,
} from './client.js';
export { loadConfig, type Config, type LoadConfigOptions } from './config.js';
export { JobCatalog } from './jobs/catalog.js';
export { defineJob, parsePayload, type ContractMap, type JobContract, type JobDefaults, type Payload, type PayloadInput, type PayloadOf } from './jobs/contract.js';
export { Cron, validateCron, validateTimeZone, nextRuns, type Weekday, type DstPolicy } from './cron.js';
export { describeSchedule, type DescribableSchedule } from './cron/describe.js';
export { ConfigError, ConflictError, NotFoundError, UnavailableError, ValidationError, type FieldIssue } from './errors.js';
export type { ParentOutcome } from './continuations/index.js';
export type { ScheduleSpec, ScheduleSpecOf } from './schedules.js';
export { defineHandler, type BoundHandler, type JobContext } from './runtime/handler.js';
export { startWorkerRuntime, JobTimeoutError, type WorkerRuntime } from './runtime/worker-runtime.js';
export { startProducerRuntime } from './runtime/producer-runtime.js';
export { Lifecycle } from './lifecycle.js';
export { createLogger, type Logger } from './logger.js';
