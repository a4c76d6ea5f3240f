import { describe, expect, it } from '@jest/globals';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { FakeClock, flushPromises } from '../../../src/kube/clock.js';
import { Informer, type WatchLike } from '../../../src/kube/informer.js';
import { Kinds } from '../../../src/kube/resources.js';
import { createRestClient } from '../../../src/kube/rest.js';

interface WatchCall {
  path: string;
  query: Record<string, string | number | boolean | undefined>;
  emit(phase: string, obj: unknown): void;
  done(err: unknown): void;
  ctrl: AbortController;
}

class FakeWatch implements WatchLike {
  calls: WatchCall[] = [];
  /** When set, watch() answers only once the test opens the gate (a slow connect). */
  gate: Promise<void> | undefined;
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const ctrl = new AbortController();
    this.calls.push({ path, query, emit: callback, done, ctrl });
    if (this.gate) await this.gate;
    return ctrl;
  }
  last(): WatchCall {
    const c = this.calls[this.calls.length - 1];
    if (!c) throw new Error('no watch yet');
    return c;
  }
}

const cm = (
  name: string,
  rv: string,
  data: Record<string, string> = {},
): KubernetesObject & { data: object } => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  data,
});

function setup(
  lists: (() => KubernetesListObject<KubernetesObject> | Promise<KubernetesListObject<KubernetesObject>>)[],
) {
  const clock = new FakeClock();
  const watch = new FakeWatch();
  let listCalls = 0;
  const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    const f = lists[Math.min(listCalls, lists.length - 1)];
    listCalls++;
    if (!f) throw new Error('no list');
    return f();
  };
  const kc = new k8s.KubeConfig();
  const client = { kc, rest: createRestClient(kc) };
  const informer = new Informer<KubernetesObject>(client, Kinds.ConfigMap, {
    namespace: 'ns',
    labelSelector: 'app=x',
    clock,
    watch,
    list,
    watchTimeoutSeconds: 300,
    restartBaseMs: 250,
    restartMaxMs: 2000,
  });
  const events: string[] = [];
  informer.on('add', (o) => events.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`));
  informer.on('update', (o) => events.push(`update ${o.metadata?.name}@${o.metadata?.resourceVersion}`));
  informer.on('delete', (o) => events.push(`delete ${o.metadata?.name}`));
  return { clock, watch, informer, events, listCalls: () => listCalls };
}

const listOf =
  (rv: string, ...items: KubernetesObject[]) =>
  () => ({ metadata: { resourceVersion: rv }, items });

describe('Informer', () => {
  it('lists into the cache, then watches from the list resourceVersion with timeout and bookmarks', async () => {
    const { watch, informer, events } = setup([listOf('10', cm('a', '5'), cm('b', '7'))]);
    expect(informer.hasSynced()).toBe(false);
    informer.start();
    await informer.waitForSync(1000);
    expect(informer.hasSynced()).toBe(true);
    expect(events.sort()).toEqual(['add a@5', 'add b@7']);
    expect(informer.get('ns', 'a')?.metadata?.resourceVersion).toBe('5');
    expect(informer.getByKey('ns/b')?.metadata?.name).toBe('b');
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(watch.last().path).toBe('/api/v1/namespaces/ns/configmaps');
    expect(watch.last().query).toMatchObject({
      resourceVersion: '10',
      labelSelector: 'app=x',
      timeoutSeconds: 60, // two thirds of the 90 s liveness bound, though 300 was asked for
      allowWatchBookmarks: true,
    });
    await informer.stop();
  });

  it('applies watch events to the cache and maps them to queue keys', async () => {
    const { watch, informer, events } = setup([listOf('10')]);
    const keys: string[] = [];
    informer.enqueueTo({ add: (k) => keys.push(k) });
    informer.start();
    await informer.waitForSync(1000);
    watch.last().emit('ADDED', cm('a', '11'));
    watch.last().emit('MODIFIED', cm('a', '12', { x: '1' }));
    watch.last().emit('MODIFIED', cm('a', '12', { x: '1' })); // same resourceVersion: no update
    watch
      .last()
      .emit('BOOKMARK', { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '15' } });
    expect((informer.get('ns', 'a') as { data?: object }).data).toEqual({ x: '1' });
    watch.last().emit('DELETED', cm('a', '16'));
    expect(informer.get('ns', 'a')).toBeUndefined();
    expect(events).toEqual(['add a@11', 'update a@12', 'delete a']);
    expect(keys).toEqual(['ns/a', 'ns/a', 'ns/a']);
    // The watch ends normally (server timeout): it resumes from the bookmark's resourceVersion, no relist.
    watch.last().done(null);
    await flushPromises();
    expect(watch.calls).toHaveLength(2);
    expect(watch.last().query.resourceVersion).toBe('16');
    await informer.stop();
  });

  it('relists after 410 Gone and reports objects that vanished meanwhile as deleted', async () => {
    const { watch, informer, events, listCalls } = setup([
      listOf('10', cm('a', '5'), cm('b', '6')),
      listOf('50', cm('b', '40'), cm('c', '45')),
    ]);
    informer.start();
    await informer.waitForSync(1000);
    events.length = 0;
    watch.last().emit('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
    watch.last().done(null);
    await flushPromises();
    expect(listCalls()).toBe(2);
    expect(events.sort()).toEqual(['add c@45', 'delete a', 'update b@40']);
    expect(watch.last().query.resourceVersion).toBe('50');
    // A 410 answer to the watch request itself also relists.
    watch.last().done({ statusCode: 410 });
    await flushPromises();
    expect(listCalls()).toBe(3);
    await informer.stop();
  });

  it('restarts after watch errors with growing backoff, resuming from the last resourceVersion', async () => {
    const { clock, watch, informer, listCalls } = setup([listOf('10')]);
    informer.start();
    await informer.waitForSync(1000);
    watch.last().emit('ADDED', cm('a', '20'));
    const startedAt: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = watch.calls.length;
      watch.last().done(new Error('connection reset'));
      const t0 = clock.now();
      while (watch.calls.length === before) await clock.advance(50);
      startedAt.push(clock.now() - t0);
    }
    // The ADDED event reset the failure count, so the delays start at the base and double.
    expect(startedAt).toEqual([250, 500, 1000, 2000]);
    expect(listCalls()).toBe(1);
    expect(watch.last().query.resourceVersion).toBe('20');
    expect(informer.stats()).toMatchObject({ errors: 4, restarts: 4, lists: 1 });
    // An event on the new watch resets the backoff.
    watch.last().emit('ADDED', cm('b', '21'));
    const before = watch.calls.length;
    watch.last().done(new Error('again'));
    await clock.advance(250);
    expect(watch.calls.length).toBe(before + 1);
    await informer.stop();
  });

  it('keeps retrying a failing list and reports not synced until it works', async () => {
    let fail = true;
    const { clock, informer, listCalls } = setup([
      () => {
        if (fail) throw new Error('503 Service Unavailable');
        return { metadata: { resourceVersion: '3' }, items: [cm('a', '2')] };
      },
    ]);
    informer.start();
    const early = informer.waitForSync(600).then(
      () => 'synced',
      (e: Error) => e.message,
    );
    await clock.advance(700);
    expect(await early).toMatch(/not synced within 600 ms/);
    expect(listCalls()).toBeGreaterThanOrEqual(2);
    fail = false;
    const later = informer.waitForSync(10_000);
    await clock.advance(2000);
    await later;
    expect(informer.get('ns', 'a')).toBeDefined();
    await informer.stop();
  });

  it('abandons a watch silent past the liveness bound and relists; stale until a watch delivers again', async () => {
    const { clock, watch, informer, listCalls } = setup([listOf('10'), listOf('20', cm('new', '15'))]);
    informer.start();
    await informer.waitForSync(1000);
    const first = watch.last();
    // Bookmarks keep a quiet watch alive.
    for (let i = 0; i < 4; i++) {
      await clock.advance(60_000);
      first.emit('BOOKMARK', { metadata: { resourceVersion: '10' } });
    }
    expect(watch.calls).toHaveLength(1);
    expect(informer.staleFor()).toBeUndefined();
    // Then nothing: at 90 s of silence the watch is dropped and the cache relisted; the new watch hangs.
    let release: () => void = () => {};
    watch.gate = new Promise<void>((resolve) => (release = resolve));
    await clock.advance(89_000);
    expect(watch.calls).toHaveLength(1);
    expect(informer.staleFor()).toBeUndefined();
    await clock.advance(2_000);
    expect(first.ctrl.signal.aborted).toBe(true);
    expect(listCalls()).toBe(2);
    expect(informer.get('ns', 'new')).toBeDefined();
    expect(watch.last().query).toMatchObject({ resourceVersion: '20' });
    expect(informer.staleFor()).toBeGreaterThanOrEqual(90_000);
    expect(informer.stats().lapses).toBe(1);
    // Late events from the abandoned stream are dropped.
    first.emit('ADDED', cm('ghost', '99'));
    expect(informer.get('ns', 'ghost')).toBeUndefined();
    // The new watch answers: live again.
    release();
    await flushPromises();
    expect(informer.staleFor()).toBeUndefined();
    await informer.stop();
  });

  it('survives a throwing handler', async () => {
    const { watch, informer } = setup([listOf('10')]);
    informer.on('add', () => {
      throw new Error('handler bug');
    });
    informer.start();
    await informer.waitForSync(1000);
    watch.last().emit('ADDED', cm('a', '11'));
    watch.last().emit('ADDED', cm('b', '12'));
    expect(informer.list()).toHaveLength(2);
    await informer.stop();
  });

  it('does not restart after stop', async () => {
    const { clock, watch, informer } = setup([listOf('10')]);
    informer.start();
    await informer.waitForSync(1000);
    const w = watch.last();
    await informer.stop();
    expect(w.ctrl.signal.aborted).toBe(true);
    w.done(new Error('aborted'));
    await clock.advance(60_000);
    expect(watch.calls).toHaveLength(1);
    expect(clock.pending()).toBe(0);
  });

  it('closes a watch that was still connecting when stopped', async () => {
    const { watch, informer } = setup([listOf('10')]);
    let open!: () => void;
    watch.gate = new Promise((r) => (open = r));
    informer.start();
    await flushPromises();
    expect(watch.calls).toHaveLength(1);
    await informer.stop();
    open();
    await flushPromises();
    expect(watch.last().ctrl.signal.aborted).toBe(true);
    watch.last().emit('ADDED', cm('late', '11'));
    expect(informer.get('ns', 'late')).toBeUndefined();
  });

  it('opens no watch when stopped while the list is in flight', async () => {
    let answer!: (l: KubernetesListObject<KubernetesObject>) => void;
    const { watch, informer, clock } = setup([() => new Promise((r) => (answer = r))]);
    informer.start();
    await flushPromises();
    await informer.stop();
    answer({ metadata: { resourceVersion: '1' }, items: [] });
    await flushPromises();
    expect(watch.calls).toHaveLength(0);
    expect(clock.pending()).toBe(0);
  });
});
