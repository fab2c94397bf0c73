/** Summary statistics for samples in milliseconds. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of unsorted samples (NaN when there are none). */
export function percentile(xs: readonly number[], p: number): number {
  return rank([...xs].sort((a, b) => a - b), p);
}

/** Nearest-rank percentile of samples sorted ascending. */
function rank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const r = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, r - 1))]!;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarize(xs: readonly number[]): Summary {
  // Sorted once; no Math.max(...xs): a fast machine's pickup run collects over 100,000 samples,
  // more arguments than a call can take.
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
  return {
    n: xs.length,
    p50: round2(rank(sorted, 50)),
    p99: round2(rank(sorted, 99)),
    max: round2(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
    mean: round2(mean),
  };
}

/** One metric measured for both sides in several rounds: per-round values, medians and the ratio. */
export interface Compared {
  unit: string;
  center: number;
  bullmq: number;
  /** center / bullmq of the medians. */
  ratio: number;
  rounds: { center: number[]; bullmq: number[] };
}

export function compare(unit: string, center: number[], bullmq: number[]): Compared {
  const c = median(center);
  const b = median(bullmq);
  return { unit, center: round2(c), bullmq: round2(b), ratio: round3(c / b), rounds: { center: center.map(round2), bullmq: bullmq.map(round2) } };
}

export { round2, round3 };
