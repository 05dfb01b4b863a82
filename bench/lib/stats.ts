// Medians and spreads of repeated measurements, and their formatting.

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  p10: number;
  p90: number;
}

/** Linear-interpolated quantile of sorted values (q in 0..1). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function spread(samples: readonly number[]): Spread {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, p10: quantile(s, 0.1), p90: quantile(s, 0.9) };
}

/** Pairwise ratios a[i] / b[i] of samples taken in the same repetition. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`ratios: ${a.length} samples against ${b.length}`);
  return a.map((x, i) => x / b[i]!);
}

/** A number with about three significant digits (no exponent). */
export function num(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `median unit (min–max, n=5)`. */
export function fmt(samples: readonly number[], unit = ''): string {
  if (samples.length === 0) return 'n/a';
  const s = spread(samples);
  const u = unit ? ` ${unit}` : '';
  return s.n === 1 ? `${num(s.median)}${u} (n=1)` : `${num(s.median)}${u} (${num(s.min)}–${num(s.max)}, n=${s.n})`;
}

/** Ratio samples as `2.10x (1.90–2.30, n=5)`. */
export function fmtRatio(samples: readonly number[]): string {
  return fmt(samples, '').replace(/^([^ ]+)/, '$1x');
}

export function median(samples: readonly number[]): number {
  return spread(samples).median;
}
