// Parses tend.yaml durations (`500ms`, `30s`, `10m`, `1h`, `1m30s`) into milliseconds.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds for a duration such as `10m` or `1m30s`; throws on anything else. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (!/^(\d+(ms|s|m|h))+$/.test(trimmed)) {
    throw new Error(`"${text}" is not a duration such as 500ms, 30s, 2m or 1h`);
  }
  let total = 0;
  for (const m of trimmed.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return total;
}
