import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { centerKey, type RedisClient } from '../redis/connection.js';
import { RedisScript } from '../redis/script.js';
import { SEVERITY, type Alert, type AlertType, type Incident } from './alert.js';

/** Incidents kept for `GET /api/alerts`. */
const KEEP = 500;

/** The condition an incident is about: one open incident per condition at a time. */
export type Condition = { type: AlertType; schedule: string } | { type: AlertType; queue: string };

const conditionKey = (c: Condition): string => `${c.type}|${'schedule' in c ? `s:${c.schedule}` : `q:${c.queue}`}`;

/**
 * A stored incident, or undefined when the entry is not an incident's JSON (damaged, or written
 * by something else): skipped, so that one such entry fails neither every detector pass (no alert
 * raised or recovered any more) nor every listing of `GET /api/alerts` (a 500).
 */
function parsed(raw: string): Incident | undefined {
  try {
    const value = JSON.parse(raw) as Incident | null;
    return typeof value === 'object' && value !== null && typeof value.id === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens an incident: sets field ARGV[1] to ARGV[2] unless it holds an incident already. An entry
 * that is no incident (damaged; see `parsed`) is replaced: it blocked its condition for good.
 * KEYS: the open-incidents hash. Returns 1 when set.
 */
const OPEN = new RedisScript('IncidentOpen', `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, v = pcall(cjson.decode, cur)
  if ok and type(v) == 'table' and type(v.id) == 'string' then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

/** A new incident id: time-ordered, unique, usable in a BullMQ job id (no ":"). */
function newId(): string {
  return `${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

/** The alert that announces `incident` (or its end, with `recovered`). */
export function alertOf(incident: Incident, recovered = false): Alert {
  const subject = incident.schedule !== undefined ? { schedule: incident.schedule } : { queue: incident.queue! };
  if (!recovered) {
    return {
      id: incident.id,
      type: incident.type,
      severity: incident.severity,
      ...subject,
      message: incident.message,
      at: incident.openedAt,
      details: incident.details,
      text: `[${incident.severity}] ${incident.type}: ${incident.message}`,
    };
  }
  const type: AlertType = incident.schedule !== undefined ? 'schedule.recovered' : 'queue.recovered';
  const message = `Recovered from ${incident.type}: ${'schedule' in subject ? `schedule ${subject.schedule}` : `queue ${subject.queue}`}`;
  return {
    id: `${incident.id}.recovered`,
    type,
    severity: SEVERITY[type],
    ...subject,
    message,
    at: incident.recoveredAt ?? new Date().toISOString(),
    details: { incident: incident.id, recovers: incident.type, openedAt: incident.openedAt },
    text: `[info] ${type}: ${message}`,
  };
}

/**
 * Incident state in Redis, shared by every process: opening is HSETNX on the condition, so
 * however many detectors run, a condition opens one incident; closing is HDEL, so it closes once.
 */
export class Incidents {
  constructor(
    private readonly redis: RedisClient,
    private readonly config: Config,
  ) {}

  #key(...parts: string[]): string {
    return centerKey(this.config, 'alerts', ...parts);
  }

  /** The open incident of a condition, if any. */
  async openOf(c: Condition): Promise<Incident | undefined> {
    const raw = await this.redis.hget(this.#key('open'), conditionKey(c));
    return raw ? parsed(raw) : undefined;
  }

  async allOpen(): Promise<Incident[]> {
    const all = await this.redis.hvals(this.#key('open'));
    return all.map(parsed).filter((i): i is Incident => i !== undefined);
  }

  /**
   * Opens an incident for `c` unless one is open.
   * @returns the new incident, or undefined when one was already open.
   */
  async open(c: Condition, message: string, details: Record<string, unknown>): Promise<Incident | undefined> {
    const incident = newIncident(c, message, details, new Date().toISOString(), null);
    const created = await OPEN.run(this.redis, [this.#key('open')], [conditionKey(c), JSON.stringify(incident)]);
    if (created !== 1) return undefined;
    await this.#remember(incident);
    return incident;
  }

  /** Records a one-off event (a repair): an incident opened and closed at once. */
  async event(c: Condition, message: string, details: Record<string, unknown>): Promise<Incident> {
    const at = new Date().toISOString();
    const incident = newIncident(c, message, details, at, at);
    await this.#remember(incident);
    return incident;
  }

  /**
   * Closes the open incident of `c`: `announce` (the recovery alert, idempotent) runs before the
   * incident is removed, so a crash in between repeats the announcement instead of losing it.
   * @returns the closed incident, or undefined when none was open.
   */
  async close(c: Condition, announce: (closed: Incident) => Promise<void>): Promise<Incident | undefined> {
    const open = await this.openOf(c);
    if (!open) return undefined;
    const closed = { ...open, recoveredAt: new Date().toISOString() };
    await announce(closed);
    const removed = await this.redis.hdel(this.#key('open'), conditionKey(c));
    await this.redis.srem(this.#key('notified'), open.id);
    if (removed === 1) await this.#remember(closed);
    return closed;
  }

  /** Marks the opening alert of an incident as handed to delivery. */
  async markNotified(incident: Incident): Promise<void> {
    await this.redis.sadd(this.#key('notified'), incident.id);
  }

  /** Open incidents whose opening alert may not have been handed to delivery (a crash in between). */
  async unnotified(): Promise<Incident[]> {
    const open = await this.allOpen();
    if (open.length === 0) return [];
    const flags = await this.redis.smismember(this.#key('notified'), ...open.map((i) => i.id));
    return open.filter((_, k) => flags[k] !== 1);
  }

  async #remember(incident: Incident): Promise<void> {
    // Separate commands (not MULTI): on a Cluster these keys may live on different nodes.
    await this.redis.hset(this.#key('incidents'), incident.id, JSON.stringify(incident));
    await this.redis.zadd(this.#key('recent'), Date.parse(incident.openedAt), incident.id);
    const old = await this.redis.zrange(this.#key('recent'), '0', String(-KEEP - 1));
    if (old.length > 0) {
      await this.redis.zrem(this.#key('recent'), ...old);
      await this.redis.hdel(this.#key('incidents'), ...old);
    }
  }

  /** Recent incidents, newest first. */
  async recent(limit = 100): Promise<Incident[]> {
    const ids = await this.redis.zrevrange(this.#key('recent'), 0, Math.max(0, limit - 1));
    if (ids.length === 0) return [];
    const raw = await this.redis.hmget(this.#key('incidents'), ...ids);
    return raw.map((r) => (r === null ? undefined : parsed(r))).filter((i): i is Incident => i !== undefined);
  }
}

/** A new incident of condition `c`; an event (a repair) is opened and recovered at once. */
function newIncident(
  c: Condition,
  message: string,
  details: Record<string, unknown>,
  openedAt: string,
  recoveredAt: string | null,
): Incident {
  return {
    id: newId(),
    type: c.type,
    severity: SEVERITY[c.type],
    ...('schedule' in c ? { schedule: c.schedule } : { queue: c.queue }),
    message,
    openedAt,
    recoveredAt,
    details,
  };
}
