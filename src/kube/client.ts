/**
 * `KubeApi` over `@kubernetes/client-node`, loaded lazily (`await import`) so that the
 * rotate-only path never pays for it. One undici dispatcher (keep-alive connection pool) is
 * shared by every request of a client; call `close()` when done.
 */
import { DeadlineExceededError, NO_DEADLINE, type Deadline } from "../shared/deadline";
import { invalidAnswerProblem } from "../shared/problem";
import type { KubeConnection } from "./types";
import { parseRetryAfter, transportError } from "./retry";
import {
  KubeApiError,
  kubeTarget,
  type KubeApi,
  type KubeEvent,
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
  evictionBody,
} from "./types";

type V1Secret = import("@kubernetes/client-node").V1Secret;

type K8s = typeof import("@kubernetes/client-node");
type CoreApi = InstanceType<K8s["CoreV1Api"]>;
type CustomApi = InstanceType<K8s["CustomObjectsApi"]>;
/** Per-call options of a client-node request: its middleware (e.g. the merge-patch header) and an AbortSignal. */
type CallOptions = Parameters<CoreApi["listNamespace"]>[1];

/** Total time one request may take (bounded by the deadline); as in ./http-client. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface ClientNodeOptions {
  /** Total timeout of one request (default 30 s), bounded by `deadline`. */
  timeoutMs?: number;
  /** The invocation's deadline: a request in flight when it passes is aborted. */
  deadline?: Deadline;
}

const ESO = { group: "external-secrets.io", version: "v1", plural: "externalsecrets" } as const;

/** Status fields of an API error body (a `Status` object as JSON text or already parsed). */
function statusOf(body: unknown): { message?: string; reason?: string; about?: string } {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return {};
    }
  }
  if (typeof value !== "object" || value === null) return {};
  const { message, reason, details } = value as { message?: unknown; reason?: unknown; details?: { kind?: unknown } };
  return {
    ...(typeof message === "string" ? { message } : {}),
    ...(typeof reason === "string" ? { reason } : {}),
    ...(typeof details?.kind === "string" ? { about: details.kind } : {}),
  };
}

export async function createKubeApi(connection: KubeConnection, options: ClientNodeOptions = {}): Promise<KubeApi> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "target", server: connection.server, caData: connection.caData, skipTLSVerify: false }],
    users: [{ name: "ecr-token-rotator", token: connection.token }],
    contexts: [{ name: "target", cluster: "target", user: "ecr-token-rotator" }],
    currentContext: "target",
  });
  // client-node 2.0.1 builds a new undici Agent for every request (a TLS handshake each time and
  // sockets left open until their keep-alive expires). Reuse the first one.
  const patchable = kc as unknown as { createDispatcher: (cluster: unknown, options: unknown) => unknown };
  const original = patchable.createDispatcher.bind(kc);
  let dispatcher: unknown;
  patchable.createDispatcher = (cluster, options) => (dispatcher ??= original(cluster, options));
  const client: Client = {
    k8s,
    url: new URL(connection.server).origin,
    timeoutMs: options.timeoutMs ?? REQUEST_TIMEOUT_MS,
    deadline: options.deadline ?? NO_DEADLINE,
    mergePatch: k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  };
  const call: Call = (spec) => callOnce(client, spec);
  return {
    ...coreMethods(call, kc.makeApiClient(k8s.CoreV1Api)),
    ...esoMethods(call, kc.makeApiClient(k8s.CustomObjectsApi)),
    async close() {
      const d = dispatcher as { close?: () => Promise<void> } | undefined;
      await d?.close?.();
    },
  };
}

/** What every request of one client shares. */
interface Client {
  k8s: K8s;
  url: string;
  timeoutMs: number;
  deadline: Deadline;
  /** The merge-patch Content-Type middleware. */
  mergePatch: { middleware?: unknown[] };
}

/** One client-node request and where it goes. */
interface CallSpec<T> {
  request: (options: CallOptions) => Promise<T>;
  verb: KubeVerb;
  resource: KubeResource;
  namespace?: string;
  /** A merge patch (the Content-Type middleware is added). */
  mergePatch?: true;
  /** A 404 resolves to undefined (a read of something that may not exist). */
  orUndefinedOn404?: true;
}

type Call = <T>(spec: CallSpec<T>) => Promise<T>;

/**
 * One client-node call within its total timeout; whatever it throws becomes a KubeApiError for
 * (verb, resource, namespace), or stays a DeadlineExceededError.
 */
async function callOnce<T>(client: Client, spec: CallSpec<T>): Promise<T> {
  try {
    return await timed(client, `${spec.verb} ${spec.resource}`, spec.request, spec.mergePatch ? client.mergePatch : undefined);
  } catch (error) {
    const e = fail(client, error, { verb: spec.verb, resource: spec.resource, ...(spec.namespace ? { namespace: spec.namespace } : {}) });
    if (spec.orUndefinedOn404 && e instanceof KubeApiError && e.problem.kind === "not-found") return undefined as T;
    throw e;
  }
}

/**
 * Runs one request with a total timer (not an idle one): min(timeoutMs, time to the
 * deadline). The request's fetch gets an AbortSignal that fires with the timer.
 */
async function timed<T>(client: Client, what: string, send: (options: CallOptions) => Promise<T>, base?: { middleware?: unknown[] }): Promise<T> {
  const { k8s, deadline, timeoutMs } = client;
  deadline.check(what);
  const left = deadline.remainingMs();
  const byDeadline = left <= timeoutMs;
  const abort = new AbortController();
  // Per-call middleware is the Observable kind (as setHeaderOptions builds it).
  const signalMiddleware = {
    pre: (context: { setSignal(signal: AbortSignal): void }) => {
      context.setSignal(abort.signal);
      return new k8s.Observable(Promise.resolve(context));
    },
    post: (response: unknown) => new k8s.Observable(Promise.resolve(response)),
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        abort.abort();
        reject(byDeadline ? deadline.cut(what) : Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" }));
      },
      Math.min(timeoutMs, left),
    );
  });
  const options = { middleware: [...(base?.middleware ?? []), signalMiddleware], middlewareMergeStrategy: "append" } as unknown as CallOptions;
  try {
    // The deadline's signal (an interrupt too) aborts the call in flight.
    return await deadline.race(Promise.race([send(options), expired]), what, () => abort.abort());
  } finally {
    clearTimeout(timer);
  }
}

/** A client-node failure as the port's error: an HTTP answer by its Status, anything else by its transport code. */
function fail(client: Client, error: unknown, where: { verb: KubeVerb; resource: KubeResource; namespace?: string }): KubeApiError | DeadlineExceededError {
  if (error instanceof DeadlineExceededError || error instanceof KubeApiError) return error;
  if (error instanceof client.k8s.ApiException) {
    const e = error as InstanceType<K8s["ApiException"]> & { body: unknown };
    const status = statusOf(e.body);
    const headers = (e.headers ?? {}) as Record<string, string>;
    const retryAfterSeconds = parseRetryAfter(headers["retry-after"] ?? headers["Retry-After"]);
    return new KubeApiError(e.code, status.message ?? (e.code === 401 ? "Unauthorized" : ""), {
      ...where,
      ...(status.reason ? { reason: status.reason } : {}),
      ...(status.about ? { about: status.about } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  }
  // TLS verification failures, refused connections, unresolvable names: by their code.
  return transportError(error, client.url, where);
}

function page<T>(list: { items?: unknown[]; metadata?: { _continue?: string; continue?: string } }): ListPage<T> {
  // A 2xx answer that is not a list must not read as "nothing there".
  if (typeof list !== "object" || list === null || !Array.isArray(list.items)) {
    throw new KubeApiError(invalidAnswerProblem(kubeTarget({}), "the API server answered 2xx with something that is not a list (no items array)"));
  }
  const next = list.metadata?._continue ?? list.metadata?.continue;
  return { items: list.items as T[], ...(next ? { continue: next } : {}) };
}

const listParams = (o: ListOptions) => ({
  limit: o.limit,
  ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
  ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
  ...(o.continue ? { _continue: o.continue } : {}),
});

/** The core/v1 requests. */
function coreMethods(call: Call, core: CoreApi): Omit<KubeApi, "listExternalSecrets" | "patchExternalSecret" | "patchClusterExternalSecret" | "close"> {
  return {
    listNamespaces: (o) => call({ request: (c) => core.listNamespace(listParams(o), c), verb: "list", resource: "namespaces" }).then(page<KubeNamespace>),
    listSecrets: (o) => call({ request: (c) => core.listSecretForAllNamespaces(listParams(o), c), verb: "list", resource: "secrets" }).then(page<KubeSecret>),
    listNamespacedSecrets: (namespace, o) =>
      call({ request: (c) => core.listNamespacedSecret({ namespace, ...listParams(o) }, c), verb: "list", resource: "secrets", namespace }).then(
        page<KubeSecret>,
      ),
    readSecret: (namespace, name) =>
      call({
        request: (c) => core.readNamespacedSecret({ name, namespace }, c),
        verb: "get",
        resource: "secrets",
        namespace,
        orUndefinedOn404: true,
      }) as Promise<KubeSecret | undefined>,
    createSecret: (namespace, body) =>
      call({
        request: (c) => core.createNamespacedSecret({ namespace, body: { apiVersion: "v1", kind: "Secret", ...body } as V1Secret }, c),
        verb: "create",
        resource: "secrets",
        namespace,
      }),
    patchSecret: (namespace, name, patch: MergePatch) =>
      call({
        request: (c) => core.patchNamespacedSecret({ name, namespace, body: patch }, c),
        verb: "patch",
        resource: "secrets",
        namespace,
        mergePatch: true,
      }),
    listServiceAccounts: (o) =>
      call({ request: (c) => core.listServiceAccountForAllNamespaces(listParams(o), c), verb: "list", resource: "serviceaccounts" }).then(
        page<KubeServiceAccount>,
      ),
    listNamespacedServiceAccounts: (namespace, o) =>
      call({
        request: (c) => core.listNamespacedServiceAccount({ namespace, ...listParams(o) }, c),
        verb: "list",
        resource: "serviceaccounts",
        namespace,
      }).then(page<KubeServiceAccount>),
    readServiceAccount: (namespace, name) =>
      call({
        request: (c) => core.readNamespacedServiceAccount({ name, namespace }, c),
        verb: "get",
        resource: "serviceaccounts",
        namespace,
        orUndefinedOn404: true,
      }) as Promise<KubeServiceAccount | undefined>,
    patchServiceAccount: (namespace, name, patch) =>
      call({
        request: (c) => core.patchNamespacedServiceAccount({ name, namespace, body: patch }, c),
        verb: "patch",
        resource: "serviceaccounts",
        namespace,
        mergePatch: true,
      }),
    listPods: (o) => call({ request: (c) => core.listPodForAllNamespaces(listParams(o), c), verb: "list", resource: "pods" }).then(page<KubePod>),
    listEvents: (o) => call({ request: (c) => core.listEventForAllNamespaces(listParams(o), c), verb: "list", resource: "events" }).then(page<KubeEvent>),
    listNamespacedPods: (namespace, o) =>
      call({ request: (c) => core.listNamespacedPod({ namespace, ...listParams(o) }, c), verb: "list", resource: "pods", namespace }).then(page<KubePod>),
    listNamespacedEvents: (namespace, o) =>
      call({ request: (c) => core.listNamespacedEvent({ namespace, ...listParams(o) }, c), verb: "list", resource: "events", namespace }).then(page<KubeEvent>),
    ...podActionMethods(call, core),
  };
}

/** The optional pod restart (eviction) and the product's Events. */
function podActionMethods(call: Call, core: CoreApi): Pick<KubeApi, "evictPod" | "createEvent" | "patchEvent"> {
  return {
    evictPod: (namespace, name, uid) =>
      call({
        request: (c) => core.createNamespacedPodEviction({ name, namespace, body: evictionBody(namespace, name, uid) }, c),
        verb: "create",
        resource: "pods/eviction",
        namespace,
      }),
    createEvent: (namespace, body) =>
      call({
        // client-node serializes its Date fields with toISOString(): hand it Dates.
        request: (c) =>
          core.createNamespacedEvent(
            {
              namespace,
              body: {
                apiVersion: "v1",
                kind: "Event",
                ...body,
                firstTimestamp: new Date(body.firstTimestamp),
                lastTimestamp: new Date(body.lastTimestamp),
              },
            },
            c,
          ),
        verb: "create",
        resource: "events",
        namespace,
      }),
    patchEvent: (namespace, name, patch) =>
      call({ request: (c) => core.patchNamespacedEvent({ name, namespace, body: patch }, c), verb: "patch", resource: "events", namespace, mergePatch: true }),
  };
}

/** The external-secrets.io/v1 requests. */
function esoMethods(call: Call, custom: CustomApi): Pick<KubeApi, "listExternalSecrets" | "patchExternalSecret" | "patchClusterExternalSecret"> {
  return {
    listExternalSecrets: (o) =>
      call({ request: (c) => custom.listClusterCustomObject({ ...ESO, ...listParams(o) }, c), verb: "list", resource: "externalsecrets" }).then(
        page<KubeExternalSecret>,
      ),
    patchExternalSecret: (namespace, name, patch) =>
      call({
        request: (c) => custom.patchNamespacedCustomObject({ ...ESO, namespace, name, body: patch }, c),
        verb: "patch",
        resource: "externalsecrets",
        namespace,
        mergePatch: true,
      }),
    patchClusterExternalSecret: (name, patch) =>
      call({
        request: (c) => custom.patchClusterCustomObject({ ...ESO, plural: "clusterexternalsecrets", name, body: patch }, c),
        verb: "patch",
        resource: "clusterexternalsecrets",
        mergePatch: true,
      }),
  };
}
