/** Help texts of the CLI, per command. */

export const MAIN_USAGE = `Job Center CLI: enqueue, schedule and continue jobs, manage recurring jobs, read job state.

Usage: npm run cli -- <command> [arguments] [options]

Commands:
  enqueue <name>                 Run a job now
  enqueue --file FILE            Run many jobs (one JSON object per line; - reads stdin), all or none
  schedule <name>                Run a job after --delay or at --at
  continue <name>                Run a job after another one (--after QUEUE/ID), or after several, finishes
  job status <queue>/<id>        Show a job's state, progress and result
  job list [filters]             List jobs newest first (--queue --state --name --from --to --limit --cursor)
  job logs <queue>/<id>          A job's log lines (--start N --limit N)
  job cancel <queue>/<id>        Remove a waiting/delayed job, withdraw a continuation, abort an active job
  job retry <queue>/<id>         Retry a failed job
  job promote <queue>/<id>       Run a delayed job now
  queue list                     Every queue: counts, paused, workers, oldest waiting job's age
  queue summary <queue>          The same for one queue
  queue pause|resume <queue>     Pause or resume a queue
  queue clean <queue>            Remove jobs of --state older than --older-than DURATION [--limit N]
  queue retry-failed <queue>     Retry every failed job of a queue [--name JOB]
  recurring list                 List recurring jobs with their next run, last run and health
  recurring get <id>             One recurring job with its last run and health
  recurring runs <id>            Its last runs, newest first (--limit N)
  recurring pause <id>           Stop firing, keep the definition
  recurring resume <id>          Fire again from the next tick
  recurring upsert <id> <name>   Create or update a recurring job (--cron or --every)
  recurring remove <id>          Remove a recurring job
  recurring trigger <id>         Run a recurring job once now (its schedule is unchanged)
  alerts                         Recent incidents (open ones have recoveredAt null); --limit N
  jobs                           List the job names, their queues and payload fields

Options:
  -h, --help                     Show help (also: help <command>, <command> --help)
  -v, --version                  Print the version
  --json                         JSON output (the default; accepted by every command)
  --timeout MS                   How long to wait for Redis to answer (default 5000)

Connection and key prefix come from the environment (and .env) like the other processes:
REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS, QUEUE_PREFIX. Logs go to stderr (LOG_LEVEL, default error).

Job types: the module JOB_CATALOG names (its \`jobs\` export); without it nothing can be enqueued.

Output: JSON on stdout (--json says so explicitly, on every command); --version prints the version.
Exit codes: 0 done; 1 failed (bad configuration, not found, Redis unreachable); 2 bad usage or invalid input.

Examples:
  npm run cli -- enqueue sleep --data '{"ms":1000}'
  npm run cli -- enqueue --file jobs.ndjson
  npm run cli -- schedule hello-world --delay 30s
  npm run cli -- continue sleep --after batch/42 --on finished --data '{"ms":10}'
  npm run cli -- recurring upsert nightly-report scheduler-test --cron '0 3 * * *' --tz Europe/Paris
  npm run cli -- job status batch/42
`;

const DATA = `  --data JSON                    The payload (default {}); @FILE reads a file, - reads stdin`;

export const COMMAND_USAGE: Record<string, string> = {
  enqueue: `Usage: npm run cli -- enqueue <name> [options]

Runs job <name> now. The payload is checked against the job's contract before anything is written.

Options:
${DATA}
  --job-id KEY                   Idempotency key: a second enqueue with the same key adds nothing
  --priority N                   1 (highest) to 2097151
  --attempts N                   Overrides the job's default number of tries
  --dedupe-key KEY               Deduplicate by KEY: while a job with it is unfinished, new ones are dropped
  --dedupe-ttl DURATION          drop: the key lasts at most this long; replace: the debounce window
  --dedupe-mode drop|replace     replace (debounce): wait the window, a newer job replaces this one
  --file FILE                    Enqueue every job of FILE instead (- reads stdin): one JSON object per
                                 line, {"name":"sleep","data":{"ms":10},"jobId":"k1","delay":5000,
                                 "runAt":"…","priority":1,"attempts":3} (all but name optional).
                                 Every line is checked first: one bad line, nothing is enqueued.
  --shard-key KEY                Sharded queues: jobs with one key share a shard and run in order
`,
  schedule: `Usage: npm run cli -- schedule <name> (--delay DURATION | --at TIME) [options]

Runs job <name> later.

Options:
  --delay DURATION               e.g. 5000 (ms), 30s, 10m, 2h, 1d
  --at TIME                      ISO 8601 time with offset, e.g. 2030-01-01T09:00:00Z
${DATA}
  --job-id KEY                   Idempotency key
  --priority N                   1 (highest) to 2097151
  --attempts N                   Overrides the job's default number of tries
  --dedupe-key KEY               Deduplicate by KEY (see enqueue --help); with --dedupe-ttl, --dedupe-mode
  --shard-key KEY                Sharded queues: jobs with one key share a shard and run in order
`,
  continue: `Usage: npm run cli -- continue <name> --after QUEUE/ID [options]

Runs job <name> once the existing job QUEUE/ID has finished (at once if it already has);
with several parents, once after all of them (a join: the answer names it, and
GET /api/batches/<join> shows its progress).

Options:
  --after QUEUE/ID[,QUEUE/ID…]   The parent job, e.g. batch/42, or several separated by commas
  --on success|finished          success (default): only if the parent(s) completed, else the
                                 continuation ends failed with a "Cancelled" reason;
                                 finished: either way
${DATA}
  --job-id KEY                   Idempotency key
`,
  job: `Usage: npm run cli -- job <status | list | logs | cancel | retry | promote> ...

  job status <queue>/<id>        (or: job status <queue> <id>) state, data, progress, result, times
  job list [--queue Q] [--state waiting|active|delayed|prioritized|completed|failed|waiting-children]
           [--name JOB] [--from TIME] [--to TIME] [--limit N] [--cursor C]
                                 newest first; pass nextCursor as --cursor for the next page
  job logs <queue>/<id> [--start N] [--limit N]
  job cancel <queue>/<id>        waiting/delayed/finished: removed; awaiting continuation: withdrawn;
                                 active: aborted, fails with "Cancelled by cli:<user>"
  job retry <queue>/<id>         a failed job runs once more
  job promote <queue>/<id>       a delayed job runs now

Exit code 1 when there is no such job or the job is in the wrong state.
`,
  recurring: `Usage: npm run cli -- recurring <list | get | runs | upsert | remove | trigger | pause | resume> ...

  recurring list
  recurring get <id>
  recurring runs <id> [--limit N]
  recurring upsert <id> <name> (--cron PATTERN [--tz ZONE] | --every DURATION) [--data JSON] [--overlap allow|skip] [--grace DURATION]
      [--dst-gap shift|skip] [--dst-overlap once|both] [--misfire once|skip|all] [--max-catch-up N]
      [--then NAME [--then-data JSON] [--then-on success|finished]] [--start-date TIME] [--end-date TIME] [--limit N]
  recurring remove <id>
  recurring trigger <id>
  recurring pause <id>
  recurring resume <id>

Options of upsert:
  --cron PATTERN                 5 fields (minute hour day month weekday) or 6 with seconds first
  --tz ZONE                      IANA time zone of the pattern, e.g. Europe/Paris (default: the processes' local zone)
  --every DURATION               Fixed interval instead of cron, e.g. 60000, 30s, 5m
  --overlap allow|skip           skip: skip a tick while the previous run is still active (default allow)
  --grace DURATION               How late a run may start before the schedule is overdue
                                 (default max(60s, 10% of the period))
  --dst-gap shift|skip           A local time skipped by a DST change: run at the end of the gap (default shift) or skip it
  --dst-overlap once|both        A local time repeated by a DST change: run at its first occurrence (default once) or both
  --misfire once|skip|all        Ticks missed while no worker ran: one late run (default once), none (skip, recorded
                                 as missed), or each missed tick in order (all)
  --max-catch-up N               With --misfire all: at most N late runs after an outage (default 100)
  --then NAME                    Run job NAME after each run, with the run as its parent
  --then-data JSON               Its payload (default {})
  --then-on success|finished     success (default): after completed runs only; finished: after failed ones too
  --start-date TIME              No tick before this ISO 8601 time
  --end-date TIME                No tick after it; the schedule is then ended (never overdue)
  --limit N                      At most N ticks in all
${DATA}

H in a pattern takes a value hashed from the schedule id: the same on every upsert and process.
The listing describes each pattern in words ("At 02:30, every day (Europe/Paris)").

Ticks missed while no worker ran: see --misfire (default: one catch-up run when a worker is back).
`,
  alerts: `Usage: npm run cli -- alerts [--limit N]

Lists recent incidents, newest first: schedule.failed, schedule.overdue, schedule.repaired,
queue.backlog, queue.failure_rate, queue.no_workers. An open incident has recoveredAt null.
  --limit N                      At most N (1-500, default 50)
`,
  queue: `Usage: npm run cli -- queue <list | summary | pause | resume | clean | retry-failed> ...

  queue list
  queue summary <queue>
  queue pause <queue>
  queue resume <queue>
  queue clean <queue> --state completed|failed|delayed|waiting|prioritized --older-than DURATION [--limit N]
  queue retry-failed <queue> [--name JOB]
`,
  jobs: `Usage: npm run cli -- jobs

Lists every job name this build knows, with its queue, description and payload JSON schema.
`,
};
