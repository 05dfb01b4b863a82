// Deep merge for defaults: mappings merge key by key, everything else is replaced.

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `over` wins; mappings merge recursively; lists and scalars replace. Inputs are not modified. */
export function deepMerge<T>(under: unknown, over: unknown): T {
  if (!isPlainObject(under) || !isPlainObject(over)) return (over === undefined ? under : over) as T;
  const out: Record<string, unknown> = { ...under };
  for (const [k, v] of Object.entries(over)) out[k] = k in under ? deepMerge(under[k], v) : v;
  return out as T;
}
