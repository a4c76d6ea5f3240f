import type { RestClient } from './rest.js';

/** Where a kind lives in the API. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural resource name, e.g. `pods`. */
  resource: string;
  kind: string;
  namespaced: boolean;
}

export const apiVersionOf = (r: Pick<ResourceInfo, 'group' | 'version'>): string =>
  r.group ? `${r.group}/${r.version}` : r.version;

function info(apiVersion: string, kind: string, resource: string, namespaced: boolean): ResourceInfo {
  const [group, version] = splitApiVersion(apiVersion);
  return { group, version, resource, kind, namespaced };
}

/** Kinds the operator uses, known without discovery. */
export const Kinds = {
  Pod: info('v1', 'Pod', 'pods', true),
  Node: info('v1', 'Node', 'nodes', false),
  ConfigMap: info('v1', 'ConfigMap', 'configmaps', true),
  Service: info('v1', 'Service', 'services', true),
  Secret: info('v1', 'Secret', 'secrets', true),
  Namespace: info('v1', 'Namespace', 'namespaces', false),
  ResourceQuota: info('v1', 'ResourceQuota', 'resourcequotas', true),
  Lease: info('coordination.k8s.io/v1', 'Lease', 'leases', true),
  Event: info('events.k8s.io/v1', 'Event', 'events', true),
  PodDisruptionBudget: info('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true),
  Job: info('batch/v1', 'Job', 'jobs', true),
  PriorityClass: info('scheduling.k8s.io/v1', 'PriorityClass', 'priorityclasses', false),
  MiningPool: info('rigshift.io/v1alpha1', 'MiningPool', 'miningpools', true),
  TrainingJob: info('rigshift.io/v1alpha1', 'TrainingJob', 'trainingjobs', true),
  FleetPolicy: info('rigshift.io/v1alpha1', 'FleetPolicy', 'fleetpolicies', false),
  UsageRecord: info('rigshift.io/v1alpha1', 'UsageRecord', 'usagerecords', true),
  JobGrants: info('rigshift.io/v1alpha1', 'JobGrants', 'jobgrants', true),
} as const satisfies Record<string, ResourceInfo>;

export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const i = apiVersion.indexOf('/');
  return i < 0 ? ['', apiVersion] : [apiVersion.slice(0, i), apiVersion.slice(i + 1)];
}

/**
 * REST path of a collection or object: `/api/v1/namespaces/ns/pods/name/status`.
 * Without a namespace, a namespaced resource's path lists across all namespaces.
 */
export function resourcePath(
  r: ResourceInfo,
  opts: { namespace?: string | undefined; name?: string | undefined; subresource?: string | undefined } = {},
): string {
  const root = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  let p = root;
  if (r.namespaced && opts.namespace) p += `/namespaces/${encodeURIComponent(opts.namespace)}`;
  if (!r.namespaced && opts.namespace) {
    throw new Error(`${r.kind} is cluster-scoped but namespace ${opts.namespace} was given`);
  }
  p += `/${r.resource}`;
  if (opts.name !== undefined) p += `/${encodeURIComponent(opts.name)}`;
  else if (opts.subresource) throw new Error(`subresource ${opts.subresource} needs an object name`);
  if (opts.subresource) p += `/${opts.subresource}`;
  return p;
}

interface DiscoveryList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

/** Maps apiVersion + kind to a resource: the known table first, then discovery (cached per group version). */
export class ResourceMapper {
  private readonly known = new Map<string, ResourceInfo>();
  private readonly discovered = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(private readonly rest: RestClient) {
    for (const r of Object.values(Kinds)) this.known.set(`${apiVersionOf(r)}|${r.kind}`, r);
  }

  async lookup(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const known = this.known.get(`${apiVersion}|${kind}`);
    if (known) return known;
    let found = (await this.discover(apiVersion, false)).get(kind);
    // A kind missing from a cached answer may be a CRD installed since: ask once more.
    if (!found) found = (await this.discover(apiVersion, true)).get(kind);
    if (!found) throw new Error(`the server has no resource for kind ${kind} in ${apiVersion}`);
    return found;
  }

  private discover(apiVersion: string, refresh: boolean): Promise<Map<string, ResourceInfo>> {
    const cached = this.discovered.get(apiVersion);
    if (cached && !refresh) return cached;
    const [group, version] = splitApiVersion(apiVersion);
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const p = this.rest.request<DiscoveryList>({ method: 'GET', path }).then((res) => {
      const m = new Map<string, ResourceInfo>();
      for (const r of res.body.resources ?? []) {
        if (r.name.includes('/')) continue; // subresources
        m.set(r.kind, { group, version, resource: r.name, kind: r.kind, namespaced: r.namespaced });
      }
      return m;
    });
    this.discovered.set(apiVersion, p);
    p.catch(() => this.discovered.delete(apiVersion));
    return p;
  }
}
