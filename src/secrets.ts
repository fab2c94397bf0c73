/*
 * The rules every secret of the center must pass (board passwords, API tokens). One place, so the
 * config, the server and anything that adds secrets later (scoped tokens) refuse the same values
 * with the same message.
 */

/** How to make a good value; every refusal ends with it. */
export const GENERATE_HINT = 'generate one with: openssl rand -base64 24';

/** `password`: a person types it (board login). `token`: a machine sends it (API bearer token). */
export type SecretKind = 'password' | 'token';

/**
 * Passwords refused in every environment: the top of public leaked-password lists, the usual
 * defaults of admin panels, and the ones our own tutorials used. Compared case-insensitively.
 */
const COMMON = new Set(
  [
    '123456', '1234567', '12345678', '123456789', '1234567890', '12345', '1234', '123', '111111', '000000',
    '123123', '654321', '666666', '121212', '112233', '123321', '159753', '147258369', '987654321', '0987654321',
    'password', 'password1', 'password12', 'password123', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'pass', 'pass123',
    'admin', 'admin1', 'admin12', 'admin123', 'admin1234', 'administrator', 'root', 'toor', 'changeme', 'changeit',
    'default', 'secret', 'secret123', 'guest', 'user', 'test', 'test123', 'testing', 'demo', 'welcome',
    'welcome1', 'welcome123', 'letmein', 'letmein1', 'qwerty', 'qwerty123', 'qwertyuiop', 'qwerty1', 'azerty',
    'asdfgh', 'asdfghjkl', 'zxcvbnm', '1q2w3e4r', '1qaz2wsx', 'qazwsx', 'abc123', 'abcd1234', 'abcdef', 'iloveyou',
    'monkey', 'dragon', 'master', 'sunshine', 'princess', 'football', 'baseball', 'shadow', 'superman', 'trustno1',
    'hello', 'hello123', 'login', 'starwars', 'whatever', 'freedom', 'michael', 'jobcenter', 'job-center',
    'bullmq', 'board', 'viewer', 'redis', 'changeme123', 'password!', 'admin!',
  ],
);

/** Strings people type in order; a run along one of them (either direction) is guessable. */
const SEQUENCES = ['abcdefghijklmnopqrstuvwxyz', '01234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm'];

/** How many characters of `v` lie in runs of 4 or more along one of {@link SEQUENCES}. */
function charsInRuns(v: string): number {
  let covered = 0;
  let i = 0;
  while (i < v.length) {
    let best = 1;
    for (const seq of SEQUENCES) {
      for (const forward of [true, false]) {
        let j = i + 1;
        while (j < v.length && seq.includes(forward ? v[j - 1]! + v[j]! : v[j]! + v[j - 1]!)) j++;
        best = Math.max(best, j - i);
      }
    }
    if (best >= 4) covered += best;
    i += best >= 4 ? best : 1;
  }
  return covered;
}

/**
 * Why `value` has too little entropy to be a secret, or undefined. Catches what people type when
 * asked for a long value: one repeated character, a repeated word, a run such as
 * `1234567890123456` or `qwertyuiop…`, and values made of too few distinct characters. Random
 * values (openssl rand, a password manager) pass with overwhelming probability.
 */
export function lowEntropyReason(value: string): string | undefined {
  const v = value.toLowerCase();
  const distinct = new Set(v).size;
  if (distinct === 1) return 'is one character repeated';
  for (let period = 2; period <= v.length / 2; period++) {
    if (v.length % period === 0 && v.slice(0, period).repeat(v.length / period) === v) {
      return `is a ${period}-character unit repeated`;
    }
  }
  if (charsInRuns(v) >= v.length * 0.6) return 'is mostly a run of consecutive characters (like 123456 or qwerty)';
  const needed = Math.min(8, Math.ceil(v.length / 4));
  if (distinct < needed) return `uses only ${distinct} distinct characters`;
  return undefined;
}

/**
 * Checks one secret of the environment. Returns what is wrong (a sentence naming `variable` and how
 * to generate a good value), or undefined when the value is acceptable.
 *
 * - Passwords, every environment: not a common password.
 * - Passwords, production: also at least 12 characters and not low-entropy.
 * - Tokens, production: not low-entropy (length rules belong to the caller's schema).
 *
 * @param kind inferred from the name when omitted: `…TOKEN…` is a token, anything else a password.
 */
export function checkSecret(
  variable: string,
  value: string,
  env: 'development' | 'production' | 'test',
  kind: SecretKind = /TOKEN/i.test(variable) ? 'token' : 'password',
): string | undefined {
  const problem = weakSecretReason(value, env, kind);
  return problem === undefined ? undefined : `${variable} ${problem}`;
}

/** {@link checkSecret} without the variable name: what is wrong and how to fix it, or undefined. */
export function weakSecretReason(value: string, env: string, kind: SecretKind): string | undefined {
  const problem = rulesBroken(value, env, kind);
  return problem === undefined ? undefined : `${problem}; ${GENERATE_HINT}`;
}

function rulesBroken(value: string, env: string, kind: SecretKind): string | undefined {
  // Whitespace alone is no secret anywhere (development too): a mangled .env line, not a choice.
  if (value.trim() === '') return 'is blank (only whitespace)';
  const production = env === 'production';
  if (kind === 'password') {
    if (COMMON.has(value.trim().toLowerCase())) return 'is a common password that attackers try first';
    if (!production) return undefined;
    if (value.length < 12) return `is shorter than 12 characters (${value.length}), which NODE_ENV=production requires`;
  }
  if (!production) return undefined;
  const low = lowEntropyReason(value);
  return low === undefined ? undefined : `${low}: too easy to guess for NODE_ENV=production`;
}

/**
 * Hides the password of every URL in `text` (`redis://user:secret@host` → `redis://user:***@host`),
 * also in malformed URLs that `new URL` would refuse, so a bad REDIS_URL is never echoed in full.
 * The user info runs to the *last* `@` of the URL: a password pasted without percent-encoding
 * (base64 holds `/`, people type `@`) is exactly the malformed URL whose error message echoes it.
 */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/{0,2})(\S*)@/gi, (_m, scheme: string, userinfo: string) => `${scheme}${hiddenUserinfo(userinfo)}@`);
}

/** A URL's user info with the password hidden (`user:***`), or all of it when it has no `:` (some clients read a lone user part as the password). */
function hiddenUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  return colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***';
}

/**
 * {@link redactUrls} for a value that is one URL as a whole (an environment variable's): its user
 * info runs from `scheme://` to the value's *last* `@`, whitespace included. In running text a URL
 * ends at whitespace, so redactUrls left `redis://app:my secret@host` (a password pasted with a
 * space, which REDIS_URL's pattern refuses) whole in the very message that refused it.
 */
export function redactUrlValue(value: string): string {
  const m = /^(\s*[a-z][a-z0-9+.-]*:\/\/)([\s\S]*)@/i.exec(value);
  if (!m) return redactUrls(value);
  return `${m[1]}${hiddenUserinfo(m[2]!)}@${value.slice(m[0].length)}`;
}
