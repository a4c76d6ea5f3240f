import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { classifyAddress } from './address.js';

/**
 * Where HTTP price sources may connect, set by the operator's admin (flags, chart values `priceSources.*`),
 * never by a MiningPool. A pool's author chooses the URL; without these rules the operator would fetch
 * anything its network reaches (cloud metadata, the kubelet, in-cluster services) on the author's behalf.
 */
export interface EgressRules {
  /** Host names or IP literals a source may use; `*.example.com` matches subdomains; `*` any public host. */
  allowedHosts: readonly string[];
  /** Exact hosts that may be fetched over plain http (https only otherwise). */
  allowHttpHosts: readonly string[];
  /** Exact hosts that may resolve to loopback, link-local, private or other non-public addresses. */
  allowPrivateHosts: readonly string[];
}

/** No HTTP source works until an admin allows its host: fail closed. */
export const NO_EGRESS: EgressRules = { allowedHosts: [], allowHttpHosts: [], allowPrivateHosts: [] };

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address of a host name (the system resolver, as a connection would use). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

/**
 * A refusal as shown in status and Events: fixed words, the pool author's own host name at most. `detail`
 * (a socket error, the resolved address) goes to the operator's debug log only.
 */
export interface EgressRefusal {
  ok: false;
  /** NotAllowed: the rules refuse it; FetchFailed: the host did not resolve. */
  code: 'NotAllowed' | 'FetchFailed';
  reason: string;
  detail?: string;
}

export type EgressCheck = { ok: true; target: ResolvedAddress; host: string } | EgressRefusal;

/** The host of a URL as the rules see it: lower case, IPv6 without brackets, no trailing dot. */
export function urlHost(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/** What the URL itself breaks, before any lookup: scheme, credentials, host not allowed, plain http. */
export function checkUrl(url: URL, rules: EgressRules): EgressRefusal | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, code: 'NotAllowed', reason: 'only https URLs are fetched' };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      ok: false,
      code: 'NotAllowed',
      reason: 'credentials in the URL are refused: send them in a header from a Secret (http.headers)',
    };
  }
  const host = urlHost(url);
  if (!hostAllowed(host, rules.allowedHosts)) {
    return {
      ok: false,
      code: 'NotAllowed',
      reason: `host not allowed: ${host} is not in the operator's priceSources.allowedHosts`,
    };
  }
  if (url.protocol === 'http:' && !rules.allowHttpHosts.map(normal).includes(host)) {
    return {
      ok: false,
      code: 'NotAllowed',
      reason: `plain http not allowed: use https, or an admin lists ${host} in priceSources.allowHttpHosts`,
    };
  }
  return undefined;
}

/**
 * Checks the URL, then resolves its host once and checks every address. The caller connects to the returned
 * address (with the original Host header and TLS server name), so a second DNS answer cannot swap it.
 */
export async function checkTarget(
  url: URL,
  rules: EgressRules,
  resolve: Resolver = systemResolver,
): Promise<EgressCheck> {
  const refused = checkUrl(url, rules);
  if (refused) return refused;
  const host = urlHost(url);
  let addresses: ResolvedAddress[];
  const family = isIP(host);
  if (family !== 0) {
    addresses = [{ address: host, family: family === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      return {
        ok: false,
        code: 'FetchFailed',
        reason: `host did not resolve: ${host}`,
        detail: errorDetail(err),
      };
    }
  }
  const first = addresses[0];
  if (!first)
    return {
      ok: false,
      code: 'FetchFailed',
      reason: `host did not resolve: ${host}`,
      detail: 'no addresses',
    };
  const privateOk = rules.allowPrivateHosts.map(normal).includes(host);
  const bad = addresses.find((a) => classifyAddress(a.address) !== 'public');
  if (bad && !privateOk) {
    return {
      ok: false,
      code: 'NotAllowed',
      reason:
        `address not allowed: ${host} ${family === 0 ? 'resolves to' : 'is'} a loopback, link-local, ` +
        'private or reserved address; an admin may list that exact host in priceSources.allowPrivateHosts',
      detail: `${bad.address} is ${classifyAddress(bad.address)}`,
    };
  }
  return { ok: true, target: first, host };
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.map(normal).some((entry) => {
    if (entry === '*') return true;
    if (entry.startsWith('*.')) return isIP(host) === 0 && host.endsWith(entry.slice(1));
    return entry === host;
  });
}

function normal(entry: string): string {
  return entry
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/** A socket or resolver error in one line, for the debug log. */
export function errorDetail(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? cause : err;
  const code = (inner as { code?: unknown }).code;
  return typeof code === 'string' ? `${code} (${inner.message})` : inner.message;
}

/** Parses a comma-separated flag value into host entries. */
export function parseHostList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
