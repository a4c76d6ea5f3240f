import type { QuotaNeed, QuotaSnapshot } from './types.js';

/**
 * What the ResourceQuotas of the jobs' namespaces have left within one plan: hard less used, less what
 * admitted gangs hold for pods not created yet, less what gangs placed in this plan take.
 */
export class QuotaLedger {
  private readonly rooms = new Map<string, { hard: number; used: number; held: number }>();

  constructor(quotas: readonly QuotaSnapshot[]) {
    for (const q of quotas) {
      for (const r of q.resources) this.rooms.set(roomKey(q.key, r.resource), { ...r });
    }
  }

  /** Why the needs do not fit, naming each quota and resource short, or undefined when they fit. */
  shortfall(needs: readonly QuotaNeed[] | undefined): string | undefined {
    const short: string[] = [];
    for (const n of needs ?? []) {
      const room = this.rooms.get(roomKey(n.quota, n.resource));
      if (!room) continue;
      const free = room.hard - room.used - room.held;
      if (n.amount <= free + EPSILON * Math.max(1, Math.abs(n.amount))) continue;
      const fmt = (v: number): string => quantityText(n.resource, v);
      const held = room.held > 0 ? `, ${fmt(room.held)} held for admitted jobs` : '';
      short.push(
        `ResourceQuota ${quotaName(n.quota)}: ${n.resource} needs ${fmt(n.amount)}, ${fmt(Math.max(0, free))} free ` +
          `(${fmt(room.used)} used of ${fmt(room.hard)}${held})`,
      );
    }
    return short.length > 0 ? short.join('; ') : undefined;
  }

  take(needs: readonly QuotaNeed[] | undefined): void {
    for (const n of needs ?? []) {
      const room = this.rooms.get(roomKey(n.quota, n.resource));
      if (room) room.held += n.amount;
    }
  }
}

const EPSILON = 1e-9;

function roomKey(quota: string, resource: string): string {
  return `${quota}\u0000${resource}`;
}

/** "team-a/gpus" → "gpus in ns team-a". */
function quotaName(key: string): string {
  const i = key.indexOf('/');
  return i < 0 ? key : `${key.slice(i + 1)} in ns ${key.slice(0, i)}`;
}

const GI = 2 ** 30;
const MI = 2 ** 20;

/** An amount as a person reads it: bytes in Gi or Mi, the rest as a short decimal. */
export function quantityText(resource: string, v: number): string {
  const short = (x: number): string => String(Math.round(x * 1000) / 1000);
  if (/memory|storage/.test(resource) && Math.abs(v) >= MI) {
    return Math.abs(v) >= GI ? `${short(v / GI)}Gi` : `${short(v / MI)}Mi`;
  }
  return short(v);
}
