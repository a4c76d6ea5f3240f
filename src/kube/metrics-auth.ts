import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import type { RestClient } from './rest.js';

/** What /metrics answers a request with: serve it, or refuse with a status and a short reason. */
export type MetricsDecision =
  { ok: true; user: string } | { ok: false; status: 401 | 403 | 500; reason: string };

export interface MetricsAuthOptions {
  rest: Pick<RestClient, 'request'>;
  clock: Clock;
  /** How long a decision about a token is reused (controller-runtime's authn/authz caches: about a minute). */
  cacheSeconds?: number;
  /** At most this many tokens are remembered (a flood of random tokens cannot grow memory without bound). */
  maxEntries?: number;
}

interface TokenReview {
  status?: {
    authenticated?: boolean;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  };
}
interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean };
}

/**
 * Kubernetes authentication and authorization for /metrics, as controller-runtime's secure metrics serving does
 * it: the bearer token goes to a TokenReview, the user it names to a SubjectAccessReview for `get` on the
 * non-resource URL /metrics (the ClusterRole `<release>-metrics-reader` grants it). Decisions are cached briefly
 * per token hash; an API error is never cached and refuses (fail closed).
 */
export class MetricsAuthorizer {
  private readonly cache = new Map<string, { decision: MetricsDecision; until: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(private readonly opts: MetricsAuthOptions) {
    this.ttlMs = (opts.cacheSeconds ?? 60) * 1000;
    this.maxEntries = opts.maxEntries ?? 1000;
  }

  async check(authorization: string | undefined, path = '/metrics'): Promise<MetricsDecision> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { ok: false, status: 401, reason: 'a bearer token is required' };
    const token = m[1] as string;
    const key = `${path} ${createHash('sha256').update(token).digest('hex')}`;
    const now = this.opts.clock.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.decision;
    let decision: MetricsDecision;
    try {
      decision = await this.review(token, path);
    } catch {
      return { ok: false, status: 500, reason: 'the token could not be checked with the API server' };
    }
    if (this.cache.size >= this.maxEntries) {
      for (const [k, v] of this.cache)
        if (v.until <= now || this.cache.size >= this.maxEntries) this.cache.delete(k);
    }
    this.cache.set(key, { decision, until: now + this.ttlMs });
    return decision;
  }

  private async review(token: string, path: string): Promise<MetricsDecision> {
    const tr = await this.opts.rest.request<TokenReview>({
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/tokenreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    const user = tr.body.status?.user;
    if (!tr.body.status?.authenticated || !user?.username) {
      return { ok: false, status: 401, reason: 'the token is not valid' };
    }
    const sar = await this.opts.rest.request<SubjectAccessReview>({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          ...(user.uid && { uid: user.uid }),
          ...(user.groups && { groups: user.groups }),
          ...(user.extra && { extra: user.extra }),
          nonResourceAttributes: { path, verb: 'get' },
        },
      },
    });
    if (sar.body.status?.allowed !== true) {
      return { ok: false, status: 403, reason: `${user.username} may not get ${path}` };
    }
    return { ok: true, user: user.username };
  }
}
