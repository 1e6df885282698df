/**
 * An in-memory `KubeApi` for tests (no network): namespaces, Secrets, ServiceAccounts and
 * ExternalSecrets with resourceVersions, merge-patch semantics with the resourceVersion
 * precondition (409), AlreadyExists (409), pagination, field/label selectors, a request log and
 * fault injection. Not used by the product.
 */
import { matchesLabelSelector, parseLabelSelector } from "../../src/kube/namespaces";
import {
  KubeApiError,
  type KubeApi,
  type KubeEvent,
  type KubeEventBody,
  type KubeExternalSecret,
  type KubeNamespace,
  type KubePod,
  type KubeResource,
  type KubeSecret,
  type KubeServiceAccount,
  type KubeVerb,
  type ListOptions,
  type ListPage,
  type MergePatch,
  type ObjectMeta,
} from "../../src/kube/types";

export interface FakeCall {
  method: keyof KubeApi;
  verb: KubeVerb;
  resource: KubeResource;
  namespace?: string;
  name?: string;
  options?: ListOptions;
  body?: unknown;
}

/** Returns an error to throw for this call (the call then has no effect), or undefined. */
export type FaultHook = (call: FakeCall) => KubeApiError | Error | undefined;

type Obj = { metadata: ObjectMeta } & Record<string, unknown>;

const clone = <T>(v: T): T => structuredClone(v);

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return clone(patch);
  const base: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = applyMergePatch(base[k], v);
  }
  return base;
}

export class FakeKubeApi implements KubeApi {
  readonly calls: FakeCall[] = [];
  readonly namespaces = new Map<string, KubeNamespace>();
  readonly secrets = new Map<string, KubeSecret>();
  readonly serviceAccounts = new Map<string, KubeServiceAccount>();
  readonly externalSecrets = new Map<string, KubeExternalSecret>();
  /** ClusterExternalSecrets (cluster-scoped: keyed `/name`). */
  readonly clusterExternalSecrets = new Map<string, Obj>();
  readonly pods = new Map<string, KubePod>();
  readonly events = new Map<string, KubeEvent>();
  /** When false, listExternalSecrets answers 404 (CRD not installed). */
  esoInstalled = true;
  faults: FaultHook[] = [];
  /** Optional async delay per call (ms), to exercise concurrency. */
  latencyMs = 0;
  private rv = 100;
  inFlight = 0;
  maxInFlight = 0;

  addNamespace(name: string, labels: Record<string, string> = {}, phase = "Active"): this {
    this.namespaces.set(name, { metadata: { name, labels, resourceVersion: this.nextRv() }, status: { phase } });
    // Like the ServiceAccount controller: every namespace has a "default" SA.
    this.serviceAccounts.set(`${name}/default`, { metadata: { name: "default", namespace: name, resourceVersion: this.nextRv() } });
    return this;
  }
  putSecret(secret: KubeSecret): this {
    const s = clone(secret);
    s.metadata.resourceVersion = this.nextRv();
    this.secrets.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
    return this;
  }
  putServiceAccount(sa: KubeServiceAccount): this {
    const s = clone(sa);
    s.metadata.resourceVersion = this.nextRv();
    this.serviceAccounts.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
    return this;
  }
  putExternalSecret(es: KubeExternalSecret): this {
    const s = clone(es);
    s.metadata.resourceVersion = this.nextRv();
    this.externalSecrets.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
    return this;
  }
  putClusterExternalSecret(ces: Obj): this {
    const c = clone(ces);
    c.metadata.resourceVersion = this.nextRv();
    this.clusterExternalSecrets.set(`/${c.metadata.name}`, c);
    return this;
  }
  putPod(pod: KubePod): this {
    const p = clone(pod);
    p.metadata.resourceVersion = this.nextRv();
    this.pods.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    return this;
  }
  putEvent(event: KubeEvent): this {
    const e = clone(event);
    e.metadata.resourceVersion = this.nextRv();
    this.events.set(`${e.metadata.namespace}/${e.metadata.name}`, e);
    return this;
  }
  /** Counts calls by method. */
  count(method?: keyof KubeApi): number {
    return method ? this.calls.filter((c) => c.method === method).length : this.calls.length;
  }
  writes(): FakeCall[] {
    return this.calls.filter((c) => c.verb === "create" || c.verb === "patch");
  }

  private nextRv(): string {
    return String(++this.rv);
  }

  private async enter(call: FakeCall): Promise<void> {
    this.calls.push(clone(call));
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      else await Promise.resolve();
      for (const hook of this.faults) {
        const error = hook(call);
        if (error) throw error;
      }
    } finally {
      this.inFlight--;
    }
  }

  private list<T extends Obj>(store: Map<string, T>, o: ListOptions, namespace?: string): ListPage<T> {
    const selector = parseLabelSelector(o.labelSelector ?? "");
    const field = o.fieldSelector?.match(/^metadata\.name=(.+)$/)?.[1];
    const all = [...store.values()]
      .filter((x) => namespace === undefined || x.metadata.namespace === namespace)
      .filter((x) => field === undefined || x.metadata.name === field)
      .filter((x) => matchesLabelSelector(selector, x.metadata.labels ?? {}))
      .sort((a, b) => `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ""}/${b.metadata.name}`));
    const start = o.continue ? Number(o.continue) : 0;
    const items = all.slice(start, start + o.limit).map(clone);
    const next = start + o.limit < all.length ? String(start + o.limit) : undefined;
    return { items, ...(next ? { continue: next } : {}) };
  }

  private patch<T extends Obj>(store: Map<string, T>, resource: KubeResource, namespace: string, name: string, patch: MergePatch): T {
    const key = `${namespace}/${name}`;
    const current = store.get(key);
    if (!current) throw new KubeApiError(404, `${resource} "${name}" not found`, { reason: "NotFound" });
    const wanted = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata.resourceVersion) {
      throw new KubeApiError(
        409,
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { reason: "Conflict" },
      );
    }
    const next = applyMergePatch(current, patch) as T;
    next.metadata.resourceVersion = this.nextRv();
    store.set(key, next);
    return clone(next);
  }

  async listNamespaces(options: ListOptions): Promise<ListPage<KubeNamespace>> {
    await this.enter({ method: "listNamespaces", verb: "list", resource: "namespaces", options });
    return this.list(this.namespaces as unknown as Map<string, Obj>, options);
  }
  async listSecrets(options: ListOptions): Promise<ListPage<KubeSecret>> {
    await this.enter({ method: "listSecrets", verb: "list", resource: "secrets", options });
    return this.list(this.secrets as unknown as Map<string, Obj>, options);
  }
  async listNamespacedSecrets(namespace: string, options: ListOptions): Promise<ListPage<KubeSecret>> {
    await this.enter({ method: "listNamespacedSecrets", verb: "list", resource: "secrets", namespace, options });
    return this.list(this.secrets as unknown as Map<string, Obj>, options, namespace);
  }
  async readSecret(namespace: string, name: string): Promise<KubeSecret | undefined> {
    await this.enter({ method: "readSecret", verb: "get", resource: "secrets", namespace, name });
    const s = this.secrets.get(`${namespace}/${name}`);
    return s ? clone(s) : undefined;
  }
  async createSecret(namespace: string, body: KubeSecret): Promise<KubeSecret> {
    await this.enter({ method: "createSecret", verb: "create", resource: "secrets", namespace, name: body.metadata.name, body });
    if (!this.namespaces.has(namespace)) throw new KubeApiError(404, `namespaces "${namespace}" not found`, { reason: "NotFound", about: "namespaces" });
    const key = `${namespace}/${body.metadata.name}`;
    if (this.secrets.has(key)) throw new KubeApiError(409, `secrets "${body.metadata.name}" already exists`, { reason: "AlreadyExists" });
    const s = clone(body);
    s.metadata = { ...s.metadata, namespace, resourceVersion: this.nextRv() };
    this.secrets.set(key, s);
    return clone(s);
  }
  async patchSecret(namespace: string, name: string, patch: MergePatch): Promise<KubeSecret> {
    await this.enter({ method: "patchSecret", verb: "patch", resource: "secrets", namespace, name, body: patch });
    return this.patch(this.secrets as unknown as Map<string, Obj>, "secrets", namespace, name, patch);
  }
  async listServiceAccounts(options: ListOptions): Promise<ListPage<KubeServiceAccount>> {
    await this.enter({ method: "listServiceAccounts", verb: "list", resource: "serviceaccounts", options });
    return this.list(this.serviceAccounts as unknown as Map<string, Obj>, options);
  }
  async listNamespacedServiceAccounts(namespace: string, options: ListOptions): Promise<ListPage<KubeServiceAccount>> {
    await this.enter({ method: "listNamespacedServiceAccounts", verb: "list", resource: "serviceaccounts", namespace, options });
    return this.list(this.serviceAccounts as unknown as Map<string, Obj>, options, namespace);
  }
  async readServiceAccount(namespace: string, name: string): Promise<KubeServiceAccount | undefined> {
    await this.enter({ method: "readServiceAccount", verb: "get", resource: "serviceaccounts", namespace, name });
    const s = this.serviceAccounts.get(`${namespace}/${name}`);
    return s ? clone(s) : undefined;
  }
  async patchServiceAccount(namespace: string, name: string, patch: MergePatch): Promise<KubeServiceAccount> {
    await this.enter({ method: "patchServiceAccount", verb: "patch", resource: "serviceaccounts", namespace, name, body: patch });
    return this.patch(this.serviceAccounts as unknown as Map<string, Obj>, "serviceaccounts", namespace, name, patch);
  }
  async listExternalSecrets(options: ListOptions): Promise<ListPage<KubeExternalSecret>> {
    await this.enter({ method: "listExternalSecrets", verb: "list", resource: "externalsecrets", options });
    if (!this.esoInstalled) throw new KubeApiError(404, "the server could not find the requested resource", { reason: "NotFound" });
    return this.list(this.externalSecrets as unknown as Map<string, Obj>, options);
  }
  async patchExternalSecret(namespace: string, name: string, patch: MergePatch): Promise<KubeExternalSecret> {
    await this.enter({ method: "patchExternalSecret", verb: "patch", resource: "externalsecrets", namespace, name, body: patch });
    return this.patch(this.externalSecrets as unknown as Map<string, Obj>, "externalsecrets", namespace, name, patch);
  }
  async patchClusterExternalSecret(name: string, patch: MergePatch): Promise<unknown> {
    await this.enter({ method: "patchClusterExternalSecret", verb: "patch", resource: "clusterexternalsecrets", name, body: patch });
    return this.patch(this.clusterExternalSecrets, "clusterexternalsecrets", "", name, patch);
  }
  async listPods(options: ListOptions): Promise<ListPage<KubePod>> {
    await this.enter({ method: "listPods", verb: "list", resource: "pods", options });
    return this.list(this.pods as unknown as Map<string, Obj>, options);
  }
  async listNamespacedPods(namespace: string, options: ListOptions): Promise<ListPage<KubePod>> {
    await this.enter({ method: "listNamespacedPods", verb: "list", resource: "pods", namespace, options });
    return this.list(this.pods as unknown as Map<string, Obj>, options, namespace);
  }
  async listNamespacedEvents(namespace: string, options: ListOptions): Promise<ListPage<KubeEvent>> {
    await this.enter({ method: "listNamespacedEvents", verb: "list", resource: "events", namespace, options });
    return this.eventPage(options, namespace);
  }
  /** Honours `involvedObject.kind=` and `reason=` in the field selector, like the API server. */
  async listEvents(options: ListOptions): Promise<ListPage<KubeEvent>> {
    await this.enter({ method: "listEvents", verb: "list", resource: "events", options });
    return this.eventPage(options);
  }
  private eventPage(options: ListOptions, namespace?: string): ListPage<KubeEvent> {
    const fields = Object.fromEntries(
      (options.fieldSelector ?? "")
        .split(",")
        .filter(Boolean)
        .map((f) => f.split("=") as [string, string]),
    );
    const page = this.list(this.events as unknown as Map<string, Obj>, { ...options, fieldSelector: undefined }, namespace) as unknown as ListPage<KubeEvent>;
    page.items = page.items.filter(
      (e) =>
        (fields["involvedObject.kind"] === undefined || e.involvedObject?.kind === fields["involvedObject.kind"]) &&
        (fields.reason === undefined || e.reason === fields.reason) &&
        (fields.source === undefined || e.source?.component === fields.source),
    );
    return page;
  }

  /**
   * The pod restart's and the Events' requests: logged in `podActionCalls`, not in `calls` (the
   * request log of the heal's writes and reads, whose budgets the other tests pin).
   */
  readonly podActionCalls: FakeCall[] = [];
  /** Evicted pods (`namespace/name`). */
  readonly evicted: string[] = [];
  /** Pods (`namespace/name`) a PodDisruptionBudget protects: their eviction answers 429. */
  readonly disruptionBudget = new Set<string>();
  private async enterPodAction(call: FakeCall): Promise<void> {
    this.podActionCalls.push(clone(call));
    await Promise.resolve();
    for (const hook of this.faults) {
      const error = hook(call);
      if (error) throw error;
    }
  }
  async evictPod(namespace: string, name: string, uid?: string): Promise<unknown> {
    await this.enterPodAction({ method: "evictPod", verb: "create", resource: "pods/eviction", namespace, name, body: { uid } });
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) throw new KubeApiError(404, `pods "${name}" not found`, { reason: "NotFound" });
    if (uid !== undefined && pod.metadata.uid !== uid) throw new KubeApiError(409, `Precondition failed: UID in precondition: ${uid}`, { reason: "Conflict" });
    if (this.disruptionBudget.has(key))
      throw new KubeApiError(429, "Cannot evict pod as it would violate the pod's disruption budget.", { reason: "TooManyRequests" });
    this.pods.delete(key);
    this.evicted.push(key);
    return {};
  }
  async createEvent(namespace: string, body: KubeEventBody): Promise<unknown> {
    await this.enterPodAction({ method: "createEvent", verb: "create", resource: "events", namespace, name: body.metadata.name, body });
    const key = `${namespace}/${body.metadata.name}`;
    if (this.events.has(key)) throw new KubeApiError(409, `events "${body.metadata.name}" already exists`, { reason: "AlreadyExists" });
    this.events.set(key, { ...clone(body), metadata: { ...body.metadata, resourceVersion: this.nextRv() } });
    return {};
  }
  async patchEvent(namespace: string, name: string, patch: MergePatch): Promise<unknown> {
    await this.enterPodAction({ method: "patchEvent", verb: "patch", resource: "events", namespace, name, body: patch });
    return this.patch(this.events as unknown as Map<string, Obj>, "events", namespace, name, patch);
  }
}

/** A 403 like the API server's RBAC denial, for `user` doing `verb` on `resource` in `namespace`. */
export function forbidden(user: string, verb: KubeVerb, resource: KubeResource, namespace?: string, name?: string): KubeApiError {
  const scope = namespace ? `in the namespace "${namespace}"` : "at the cluster scope";
  const group = resource === "externalsecrets" || resource === "clusterexternalsecrets" ? "external-secrets.io" : "";
  return new KubeApiError(
    403,
    `${resource}${name ? ` "${name}"` : ""} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" ${scope}`,
    {
      reason: "Forbidden",
    },
  );
}
