// The informer's transform (client-go's SetTransform): objects are trimmed before they are cached, from the
// list and from every watch event; bookmarks pass untouched.
import { expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { FakeClock, flushPromises } from '../../../src/kube/clock.js';
import { Informer, type WatchLike } from '../../../src/kube/informer.js';
import { Kinds } from '../../../src/kube/resources.js';
import { createRestClient } from '../../../src/kube/rest.js';

type Obj = KubernetesObject & { data?: Record<string, string> };

it('caches what the transform returns, from the list and the watch', async () => {
  let emit: ((phase: string, obj: unknown) => void) | undefined;
  const watch: WatchLike = {
    watch: async (_path, _query, callback) => {
      emit = callback;
      return new AbortController();
    },
  };
  const obj = (name: string, rv: string): Obj => ({
    metadata: { name, namespace: 'ns', resourceVersion: rv, labels: { big: 'x'.repeat(100) } },
    data: { k: 'v'.repeat(1000) },
  });
  const seen: string[] = [];
  const kc = new k8s.KubeConfig();
  const informer = new Informer<Obj>({ kc, rest: createRestClient(kc) }, Kinds.ConfigMap, {
    namespace: 'ns',
    clock: new FakeClock(),
    watch,
    list: async () => ({ metadata: { resourceVersion: '10' }, items: [obj('a', '5')] }),
    transform: (o) => {
      seen.push(o.metadata?.name ?? '');
      const m = o.metadata ?? {};
      return { metadata: { name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion } };
    },
  });
  informer.start();
  await informer.waitForSync(1000);
  await flushPromises();
  expect(informer.get('ns', 'a')).toEqual({ metadata: { name: 'a', namespace: 'ns', resourceVersion: '5' } });

  emit?.('ADDED', obj('b', '11'));
  emit?.('MODIFIED', obj('a', '12'));
  emit?.('BOOKMARK', { metadata: { resourceVersion: '13' } });
  await flushPromises();
  expect(informer.list().map((o) => o)).toEqual([
    { metadata: { name: 'a', namespace: 'ns', resourceVersion: '12' } },
    { metadata: { name: 'b', namespace: 'ns', resourceVersion: '11' } },
  ]);
  expect(seen).toEqual(['a', 'b', 'a']); // not the bookmark
  await informer.stop();
});
