import * as k8s from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { ResourceMapper } from './resources.js';
import { createRestClient, type RestClient, type RestClientOptions } from './rest.js';

export interface KubeConfigSource {
  /** Path to a kubeconfig file. */
  kubeconfig?: string | undefined;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST, token and CA files). */
  inCluster?: boolean | undefined;
  /** Context to use instead of the file's current context. */
  context?: string | undefined;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads a KubeConfig: an explicit path, or in-cluster, or else the default rules ($KUBECONFIG, ~/.kube/config,
 * in-cluster when running in a pod). Fails with a clear message rather than silently pointing at localhost.
 */
export function loadKubeConfig(src: KubeConfigSource = {}): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (src.kubeconfig && src.inCluster)
    throw new Error('choose either a kubeconfig path or in-cluster, not both');
  if (src.kubeconfig) {
    if (!existsSync(src.kubeconfig)) throw new Error(`kubeconfig ${src.kubeconfig} does not exist`);
    kc.loadFromFile(src.kubeconfig);
  } else if (src.inCluster) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(SERVICE_ACCOUNT_TOKEN)) {
      throw new Error(
        'in-cluster config requested but KUBERNETES_SERVICE_HOST or the service account token is missing',
      );
    }
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (src.context) kc.setCurrentContext(src.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new Error(`kubeconfig has no cluster for context ${kc.getCurrentContext() || '(none)'}`);
  return kc;
}

/** Everything the operator needs to talk to the API server. */
export interface KubeClient {
  kc: k8s.KubeConfig;
  /** Raw JSON requests (apply, eviction, leases, events, informer lists). */
  rest: RestClient;
  /** apiVersion + kind → resource path. */
  mapper: ResourceMapper;
  core: k8s.CoreV1Api;
  coordination: k8s.CoordinationV1Api;
  events: k8s.EventsV1Api;
  policy: k8s.PolicyV1Api;
  scheduling: k8s.SchedulingV1Api;
  custom: k8s.CustomObjectsApi;
  objects: k8s.KubernetesObjectApi;
}

export function createKubeClient(kc: k8s.KubeConfig, opts: RestClientOptions = {}): KubeClient {
  const rest = createRestClient(kc, opts);
  return {
    kc,
    rest,
    mapper: new ResourceMapper(rest),
    core: kc.makeApiClient(k8s.CoreV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    events: kc.makeApiClient(k8s.EventsV1Api),
    policy: kc.makeApiClient(k8s.PolicyV1Api),
    scheduling: kc.makeApiClient(k8s.SchedulingV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}
