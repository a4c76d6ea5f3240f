// Server-side apply against the real API server: field ownership, conflicts, force, dry run, /status.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apply, applyStatus, applyStatusIfChanged, isFieldManagerConflict } from '../../../src/kube/apply.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { ApiError, isNotFound } from '../../../src/kube/rest.js';
import type { Condition } from '../../../src/kube/status.js';
import { getTestCluster, uniqueSuffix, waitFor, type TestCluster } from '../../support/cluster.js';

let c: TestCluster;
let client: KubeClient;
let ns: string;
const id = uniqueSuffix();
// A throw-away CRD of our own so this file needs nothing from other areas.
const group = `kube${id}.rigshift.io`;
const crdName = `gadgets.${group}`;

interface CM {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    managedFields?: { manager?: string; operation?: string; subresource?: string; fieldsV1?: unknown }[];
  };
  data?: Record<string, string>;
}

const cm = (data: Record<string, string>): CM => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'applied', namespace: ns },
  data,
});

async function readCm(): Promise<CM> {
  return (
    await client.rest.request<CM>({ method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps/applied` })
  ).body;
}

beforeAll(async () => {
  c = await getTestCluster();
  client = createKubeClient(c.kc);
  ns = await c.createNamespace('kube-apply');
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', properties: { size: { type: 'integer' } } },
                status: {
                  type: 'object',
                  properties: {
                    phase: { type: 'string' },
                    conditions: {
                      type: 'array',
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['type'],
                      items: {
                        type: 'object',
                        required: ['type', 'status'],
                        properties: {
                          type: { type: 'string' },
                          status: { type: 'string' },
                          reason: { type: 'string' },
                          message: { type: 'string' },
                          lastTransitionTime: { type: 'string', format: 'date-time' },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  await apply(client, crd);
  await waitFor(
    'CRD established',
    async () => {
      const r = await client.rest.request<{ status?: { conditions?: Condition[] } }>({
        method: 'GET',
        path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`,
      });
      return r.body.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    },
    30_000,
  );
});

afterAll(async () => {
  await client?.rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
  await client?.rest
    .request({ method: 'DELETE', path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}` })
    .catch(() => undefined);
});

describe('server-side apply', () => {
  it('creates, then updates, a ConfigMap owned by field manager rigshift', async () => {
    const created = await apply(client, cm({ a: '1' }));
    expect(created.metadata.resourceVersion).toBeTruthy();
    const updated = await apply(client, cm({ a: '2', b: '3' }));
    expect(updated.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
    const read = await readCm();
    expect(read.data).toEqual({ a: '2', b: '3' });
    const mine = read.metadata.managedFields?.find((f) => f.manager === 'rigshift');
    expect(mine?.operation).toBe('Apply');
    expect(JSON.stringify(mine?.fieldsV1)).toContain('"f:a"');
    // Applying again with a field left out removes it: rigshift owned it.
    await apply(client, cm({ a: '2' }));
    expect((await readCm()).data).toEqual({ a: '2' });
    // Re-applying the same intent changes nothing.
    const before = (await readCm()).metadata.resourceVersion;
    await apply(client, cm({ a: '2' }));
    expect((await readCm()).metadata.resourceVersion).toBe(before);
  });

  it('fails with the server message on a conflicting manager, and takes over when forced', async () => {
    const manifest = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: ${ns}\ndata:\n  a: "from-kubectl"\n`;
    await c.kubectl(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=someone-else', '-f', '-'],
      {
        input: manifest,
      },
    );
    const err = await apply(client, cm({ a: 'from-rigshift' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(isFieldManagerConflict(err)).toBe(true);
    expect((err as ApiError).statusCode).toBe(409);
    expect((err as ApiError).message).toMatch(/conflict with "someone-else"/);
    expect((err as ApiError).message).toContain('.data.a');
    expect((await readCm()).data?.a).toBe('from-kubectl');

    await apply(client, cm({ a: 'from-rigshift' }), { force: true });
    const read = await readCm();
    expect(read.data?.a).toBe('from-rigshift');
    const other = read.metadata.managedFields?.find((f) => f.manager === 'someone-else');
    expect(JSON.stringify(other?.fieldsV1 ?? {})).not.toContain('"f:a"');
  });

  it('validates on a dry run without persisting', async () => {
    const dry = await apply(
      client,
      { ...cm({}), metadata: { name: 'dry-only', namespace: ns } },
      { dryRun: true },
    );
    expect(dry.metadata.name).toBe('dry-only');
    const missing = await client.rest
      .request({ method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps/dry-only` })
      .catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
  });

  it('throws the server validation message for an invalid object', async () => {
    const err = await apply(client, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'Not_A_Valid_Name', namespace: ns },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(422);
    expect((err as ApiError).message).toContain('Not_A_Valid_Name');
  });
});

describe('status through /status', () => {
  interface Gadget {
    apiVersion: string;
    kind: 'Gadget';
    metadata: { name: string; namespace: string; resourceVersion?: string; generation?: number };
    spec?: { size?: number };
    status?: { phase?: string; conditions?: Condition[] };
  }
  const path = () => `/apis/${group}/v1/namespaces/${ns}/gadgets/g1`;
  const read = async (): Promise<Gadget> =>
    (await client.rest.request<Gadget>({ method: 'GET', path: path() })).body;

  it('writes only status, keeps transition times, and skips unchanged writes', async () => {
    await apply(client, {
      apiVersion: `${group}/v1`,
      kind: 'Gadget',
      metadata: { name: 'g1', namespace: ns },
      spec: { size: 3 },
    });
    // A status apply carrying a spec change must not touch spec.
    await applyStatus(client, {
      apiVersion: `${group}/v1`,
      kind: 'Gadget',
      metadata: { name: 'g1', namespace: ns },
      status: { phase: 'Pending' },
      spec: { size: 99 },
    } as never);
    let g = await read();
    expect(g.spec?.size).toBe(3);
    expect(g.status?.phase).toBe('Pending');

    const t0 = new Date('2025-01-01T00:00:00Z');
    const first = await applyStatusIfChanged(
      client,
      g,
      { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', reason: 'Started' }] },
      { now: t0 },
    );
    expect(first.written).toBe(true);
    g = await read();
    expect(g.status?.conditions?.[0]?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
    const rv = g.metadata.resourceVersion;

    // The same status an hour later: nothing written, resourceVersion unchanged.
    const again = await applyStatusIfChanged(
      client,
      g,
      { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', reason: 'Started' }] },
      { now: new Date('2025-01-01T01:00:00Z') },
    );
    expect(again.written).toBe(false);
    expect((await read()).metadata.resourceVersion).toBe(rv);

    // A new message with the same condition status: written, transition time kept.
    const msg = await applyStatusIfChanged(
      client,
      g,
      {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', reason: 'Started', message: 'all 2 pods' }],
      },
      { now: new Date('2025-01-01T02:00:00Z') },
    );
    expect(msg.written).toBe(true);
    g = await read();
    expect(g.status?.conditions?.[0]).toMatchObject({
      message: 'all 2 pods',
      lastTransitionTime: '2025-01-01T00:00:00Z',
    });

    // The condition flips: new transition time.
    await applyStatusIfChanged(
      client,
      g,
      { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'Crashed' }] },
      { now: new Date('2025-01-01T03:00:00Z') },
    );
    g = await read();
    expect(g.status?.conditions?.[0]?.lastTransitionTime).toBe('2025-01-01T03:00:00Z');
    expect(g.spec?.size).toBe(3);
  });
});
