/**
 * Dot paths into parsed JSON: `data.usdPerMhsDay`, `items.0.price` (or `items[0].price`).
 * Only own properties are followed, so `constructor` or `__proto__` never reach the prototype.
 */
export type FieldLookup = { found: true; value: unknown } | { found: false; reason: string };

export function parseFieldPath(path: string | undefined): string[] {
  if (path === undefined || path.trim() === '') return [];
  const normalized = path.trim().replace(/\[(\d+)\]/g, '.$1');
  const segments = normalized.split('.');
  if (segments.some((s) => s === '')) throw new Error(`field path '${path}' has an empty segment`);
  return segments;
}

export function lookupField(body: unknown, segments: readonly string[]): FieldLookup {
  let here: unknown = body;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const at = i === 0 ? 'the response' : segments.slice(0, i).join('.');
    if (Array.isArray(here)) {
      if (!/^\d+$/.test(seg)) return { found: false, reason: `${at} is an array, '${seg}' is not an index` };
      const index = Number(seg);
      if (index >= here.length) {
        return { found: false, reason: `${at} has ${here.length} items, no index ${index}` };
      }
      here = here[index];
    } else if (here !== null && typeof here === 'object') {
      if (!Object.hasOwn(here, seg)) return { found: false, reason: `${at} has no key '${seg}'` };
      here = (here as Record<string, unknown>)[seg];
    } else {
      return {
        found: false,
        reason: `${at} is ${here === null ? 'null' : `a ${typeof here}`}, not an object`,
      };
    }
  }
  return { found: true, value: here };
}
