import express, { Router, type RequestHandler } from 'express';
import type { ScheduleInfo } from '../schemas/recurring.js';
import type { RunRecord } from '../schemas/schedule-health.js';
import type { ServerDeps } from './app.js';
import { accountOf, requireBoardLogin, type AuthFailures } from './auth.js';
import { CLIENT_GONE, decodeSegment, resultOf, whenAnswered, type AuditLog } from './audit.js';
import { errorBody } from './http-errors.js';
import { refuseCrossSiteWrites } from './security.js';

/** Where the schedule health page is served (linked from the board). */
export const SCHEDULE_PAGE_PATH = '/schedules';
const STRIP = 30;

const COLORS: Record<string, string> = {
  ok: '#2b8a3e',
  late: '#e67700',
  failing: '#c92a2a',
  overdue: '#c92a2a',
  paused: '#868e96',
  pending: '#1971c2',
  ended: '#495057',
  completed: '#2b8a3e',
  failed: '#c92a2a',
  skipped: '#adb5bd',
  missed: '#e67700',
};

const escape = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const ms = (n: number | null | undefined): string => (n === null || n === undefined ? '–' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);
const time = (iso: string | null | undefined): string => (iso ? escape(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')) : '–');

function pattern(s: ScheduleInfo): string {
  const described = s.description;
  if (described) return escape(described);
  if (s.cron) return `<code>${escape(s.cron)}</code>${s.tz ? ` (${escape(s.tz)})` : ''}`;
  return `every ${ms(s.every ?? null)}`;
}

function strip(runs: readonly RunRecord[]): string {
  // Oldest left, newest right, as a timeline reads.
  return [...runs]
    .reverse()
    .map(
      (r) =>
        `<span class="run" style="background:${COLORS[r.outcome] ?? '#ced4da'}" title="${escape(
          `${r.tick}: ${r.outcome}${r.error ? ` (${r.error})` : ''}, ${ms(r.durationMs)}, ${ms(r.latenessMs)} late`,
        )}"></span>`,
    )
    .join('');
}

function row(s: ScheduleInfo, runs: readonly RunRecord[], admin: boolean): string {
  const last = s.lastRun;
  const id = escape(s.id);
  const buttons = admin
    ? `<button data-id="${id}" data-action="run">Run now</button> ` +
      (s.paused ? `<button data-id="${id}" data-action="resume">Resume</button>` : `<button data-id="${id}" data-action="pause">Pause</button>`)
    : '';
  return `<tr data-schedule="${id}">
  <td><strong>${id}</strong><br><small>${escape(s.name)} · ${escape(s.queue)}</small></td>
  <td>${pattern(s)}</td>
  <td>${time(s.next)}</td>
  <td>${last ? `<span style="color:${COLORS[last.outcome]}">${escape(last.outcome)}</span>${last.error ? `<br><small>${escape(last.error.slice(0, 120))}</small>` : ''}` : '–'}</td>
  <td>${time(last?.startedAt)}</td>
  <td>${ms(last?.durationMs)}</td>
  <td>${ms(last?.latenessMs)}</td>
  <td><span class="health" style="background:${COLORS[s.health]}">${escape(s.health)}</span></td>
  <td class="strip">${strip(runs)}</td>
  <td>${buttons}</td>
</tr>`;
}

function page(title: string, rows: string, admin: boolean, boardPath: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)} · schedules</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="${escape(boardPath)}/static/favicon-32x32.png">
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#212529}
table{border-collapse:collapse;width:100%}th,td{padding:6px 8px;border-bottom:1px solid #dee2e6;text-align:left;vertical-align:top}
th{background:#f1f3f5}.health{color:#fff;border-radius:10px;padding:2px 8px;font-weight:600}
.run{display:inline-block;width:7px;height:18px;margin-right:1px;border-radius:1px}.strip{white-space:nowrap}
button{margin:1px 0;cursor:pointer}#msg{margin:8px 0;min-height:1em;color:#c92a2a}
</style></head><body>
<h1>${escape(title)}: schedules</h1>
<p><a href="${escape(boardPath)}">← board</a> · health: ok, late (started > 1 s after its tick), failing, overdue (not started within tick + grace), paused, pending, ended${admin ? '' : ' · read-only'}</p>
<div id="msg" role="status"></div>
<table><thead><tr><th>Schedule</th><th>Pattern</th><th>Next run</th><th>Last outcome</th><th>Last run</th><th>Duration</th><th>Lateness</th><th>Health</th><th>Last ${STRIP} runs</th><th></th></tr></thead>
<tbody>${rows || '<tr><td colspan="10">No schedules yet.</td></tr>'}</tbody></table>
<script>
document.addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-action]');
  if (!b) return;
  b.disabled = true;
  const res = await fetch('${SCHEDULE_PAGE_PATH}/' + encodeURIComponent(b.dataset.id) + '/' + b.dataset.action, { method: 'POST', headers: { 'x-requested-with': 'schedule-page' } });
  if (res.ok) location.reload();
  else { document.getElementById('msg').textContent = (await res.json().catch(() => ({}))).error || ('HTTP ' + res.status); b.disabled = false; }
});
</script></body></html>`;
}

/**
 * Beyond the board's cross-site rule (refuseCrossSiteWrites, mounted before: Origin and
 * Sec-Fetch-Site against this server's origin, the forwarded one behind a trusted proxy), the page's
 * writes carry the custom header its own script sends, which a cross-site form cannot set. (This
 * compared Origin with the raw Host header too: behind a proxy that rewrites Host, every button was
 * refused while the board's worked.)
 */
const pageScriptOnly: RequestHandler = (req, res, next) => {
  if (req.headers['x-requested-with'] === 'schedule-page') return next();
  res.status(403).json(errorBody('Cross-site request refused', [{ field: 'X-Requested-With', message: 'use the buttons of the schedule page' }]));
};

const ACTIONS = { run: 'trigger', pause: 'pause', resume: 'resume' } as const;

/**
 * Every write to the page, as answered: done, refused (cross-site, no login, the viewer) or failed,
 * like the board's (audit.ts). Mounted before the refusals, so that they are on record too.
 */
function auditScheduleWrites(audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    // With the one trailing "/" that Express's routing accepts too: `/<id>/pause/` pauses, and was
    // on record as an unnamed `board.schedule.post` without its schedule.
    const m = /^\/([^/]+)\/([^/]+)\/?$/.exec(req.path);
    // Only the page's own actions name the record: any other segment (it is the caller's, refused
    // or not) would be an action of its choosing, control characters included.
    const name = decodeSegment(m?.[2]);
    const known = name !== undefined && Object.hasOwn(ACTIONS, name);
    const ip = req.ip;
    whenAnswered(res, (status, gone) => {
      audit.record({
        actor: accountOf(res)?.user ?? 'anonymous',
        action: `board.schedule.${known ? name : 'post'}`,
        ...(m ? { schedule: decodeSegment(m[1]) } : {}),
        ...(known && !gone ? {} : { detail: [known ? undefined : `path ${req.path}`, gone ? CLIENT_GONE : undefined].filter(Boolean).join('; ') }),
        ip,
        result: resultOf(status),
        status,
      });
    });
    next();
  };
}

/**
 * The schedule health page behind the board's login: everyone logged in may read; run now,
 * pause and resume are the admin's, refused cross-site, and audited like the board's writes.
 */
export function schedulePageRouter(deps: ServerDeps, failures: AuthFailures): Router {
  const { config, service, audit } = deps;
  const router = Router();
  // The board's cross-site rule (security.ts) first, as on the board itself; pageScriptOnly adds the page's own header check.
  router.use(auditScheduleWrites(audit), refuseCrossSiteWrites, ...requireBoardLogin(config, failures));
  router.get('/', async (_req, res) => {
    const admin = accountOf(res)?.role === 'admin';
    const schedules = await service.recurring.list();
    const runs = await Promise.all(schedules.map((s) => service.recurring.runs(s.id, { limit: STRIP }).catch(() => [])));
    const rows = schedules.map((s, i) => row(s, runs[i]!, admin)).join('\n');
    res.set('Cache-Control', 'no-store').type('html').send(page(config.server.board.title, rows, admin, config.server.board.basePath));
  });
  router.post('/:id/:action', express.json({ limit: '1kb' }), pageScriptOnly, async (req, res) => {
    const account = accountOf(res)!;
    // Own keys only: `constructor` or `toString` would otherwise name a method of every object (a 500).
    const name = String(req.params.action);
    const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name as keyof typeof ACTIONS] : undefined;
    const id = String(req.params.id);
    if (!action) {
      res.status(404).json(errorBody(`No action ${JSON.stringify(req.params.action)}; use run, pause or resume`));
      return;
    }
    if (account.role !== 'admin') {
      res.status(403).json(errorBody('The viewer account is read-only', [{ field: 'Authorization', message: 'log in with BOARD_USER' }]));
      return;
    }
    // Errors go to the error handler (400, 404, 409, 503); the audit records what it answered.
    res.json(await service.recurring[action](id));
  });
  return router;
}
