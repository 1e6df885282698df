/**
 * `KubeApi` over `@kubernetes/client-node`, loaded lazily (`await import`) so that the
 * rotate-only path never pays for it. One undici dispatcher (keep-alive connection pool) is
 * shared by every request of a client; call `close()` when done.
 */
import { DeadlineExceededError, NO_DEADLINE, type Deadline } from "../shared/deadline";
import type { KubeConnection } from "./types";
import { scrub } from "../shared/redact-text";
import { parseRetryAfter, transportError } from "./retry";
import {
  KubeApiError,
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
} from "./types";

type V1Secret = import("@kubernetes/client-node").V1Secret;

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
function statusOf(body: unknown): { message?: string; reason?: string } {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return {};
    }
  }
  if (typeof value !== "object" || value === null) return {};
  const { message, reason } = value as { message?: unknown; reason?: unknown };
  return { message: typeof message === "string" ? message : undefined, reason: typeof reason === "string" ? reason : undefined };
}

export async function createKubeApi(connection: KubeConnection, options: ClientNodeOptions = {}): Promise<KubeApi> {
  const k8s = await import("@kubernetes/client-node");
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const deadline = options.deadline ?? NO_DEADLINE;
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

  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

  /** Per-call options of a client-node request: its middleware (e.g. the merge-patch header) and an AbortSignal. */
  type CallOptions = Parameters<typeof core.listNamespace>[1];
  /**
   * Runs one request with a total timer (not an idle one): min(timeoutMs, time to the
   * deadline). The request's fetch gets an AbortSignal that fires with the timer.
   */
  const timed = async <T>(what: string, send: (options: CallOptions) => Promise<T>, base?: { middleware?: unknown[] }): Promise<T> => {
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
          reject(byDeadline ? new DeadlineExceededError(what) : Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" }));
        },
        Math.min(timeoutMs, left),
      );
    });
    const options = { middleware: [...(base?.middleware ?? []), signalMiddleware], middlewareMergeStrategy: "append" } as unknown as CallOptions;
    try {
      return await Promise.race([send(options), expired]);
    } finally {
      clearTimeout(timer);
    }
  };

  const fail = (error: unknown, verb: KubeVerb, resource: KubeResource, namespace?: string): KubeApiError | DeadlineExceededError => {
    const where = { verb, resource, ...(namespace ? { namespace } : {}) };
    if (error instanceof DeadlineExceededError || error instanceof KubeApiError) return error;
    if (error instanceof k8s.ApiException) {
      const e = error as InstanceType<typeof k8s.ApiException<unknown>>;
      const status = statusOf(e.body);
      const headers = (e.headers ?? {}) as Record<string, string>;
      const retryAfterSeconds = parseRetryAfter(headers["retry-after"] ?? headers["Retry-After"]);
      return new KubeApiError(e.code, scrub(status.message ?? (e.code === 401 ? "Unauthorized" : "")), {
        ...where,
        ...(status.reason ? { reason: status.reason } : {}),
        ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      });
    }
    // TLS verification failures and the like: not retryable, reported by code only.
    return transportError(error, new URL(connection.server).origin, where, findCode(error));
  };

  const page = <T>(list: { items?: unknown[]; metadata?: { _continue?: string; continue?: string } }): ListPage<T> => {
    // A 2xx answer that is not a list must not read as "nothing there".
    if (typeof list !== "object" || list === null || !Array.isArray(list.items)) {
      throw new KubeApiError(-1, "the API server answered 2xx with something that is not a list (no items array)");
    }
    const next = list.metadata?._continue ?? list.metadata?.continue;
    return { items: list.items as T[], ...(next ? { continue: next } : {}) };
  };
  const listParams = (o: ListOptions) => ({
    limit: o.limit,
    ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
    ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
    ...(o.continue ? { _continue: o.continue } : {}),
  });
  const orUndefinedOn404 = <T>(p: Promise<T>, verb: KubeVerb, resource: KubeResource, namespace: string): Promise<T | undefined> =>
    p.catch((error: unknown) => {
      const e = fail(error, verb, resource, namespace);
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    });
  const plain = <T>(value: unknown): T => value as T;
  /**
   * One client-node call within its total timeout; whatever it throws becomes a KubeApiError for
   * (verb, resource, namespace), or stays a DeadlineExceededError.
   */
  const call = async <T>(
    request: (options: CallOptions) => Promise<T>,
    verb: KubeVerb,
    resource: KubeResource,
    namespace?: string,
    base?: { middleware?: unknown[] },
  ): Promise<T> => {
    try {
      return await timed(`${verb} ${resource}`, request, base);
    } catch (error) {
      throw fail(error, verb, resource, namespace);
    }
  };

  return {
    listNamespaces(o) {
      return call((c) => core.listNamespace(listParams(o), c), "list", "namespaces").then(page<KubeNamespace>);
    },
    listSecrets(o) {
      return call((c) => core.listSecretForAllNamespaces(listParams(o), c), "list", "secrets").then(page<KubeSecret>);
    },
    listNamespacedSecrets(namespace, o) {
      return call((c) => core.listNamespacedSecret({ namespace, ...listParams(o) }, c), "list", "secrets", namespace).then(page<KubeSecret>);
    },
    readSecret(namespace, name) {
      return orUndefinedOn404(
        timed("get secrets", (c) => core.readNamespacedSecret({ name, namespace }, c)).then(plain<KubeSecret>),
        "get",
        "secrets",
        namespace,
      );
    },
    createSecret(namespace, body) {
      return call(
        (c) => core.createNamespacedSecret({ namespace, body: { apiVersion: "v1", kind: "Secret", ...body } as V1Secret }, c),
        "create",
        "secrets",
        namespace,
      ).then(plain<KubeSecret>);
    },
    patchSecret(namespace, name, patch: MergePatch) {
      return call((c) => core.patchNamespacedSecret({ name, namespace, body: patch }, c), "patch", "secrets", namespace, mergePatch).then(plain<KubeSecret>);
    },
    listServiceAccounts(o) {
      return call((c) => core.listServiceAccountForAllNamespaces(listParams(o), c), "list", "serviceaccounts").then(page<KubeServiceAccount>);
    },
    listNamespacedServiceAccounts(namespace, o) {
      return call((c) => core.listNamespacedServiceAccount({ namespace, ...listParams(o) }, c), "list", "serviceaccounts", namespace).then(
        page<KubeServiceAccount>,
      );
    },
    readServiceAccount(namespace, name) {
      return orUndefinedOn404(
        timed("get serviceaccounts", (c) => core.readNamespacedServiceAccount({ name, namespace }, c)).then(plain<KubeServiceAccount>),
        "get",
        "serviceaccounts",
        namespace,
      );
    },
    patchServiceAccount(namespace, name, patch) {
      return call((c) => core.patchNamespacedServiceAccount({ name, namespace, body: patch }, c), "patch", "serviceaccounts", namespace, mergePatch).then(
        plain<KubeServiceAccount>,
      );
    },
    listExternalSecrets(o) {
      return call((c) => custom.listClusterCustomObject({ ...ESO, ...listParams(o) }, c), "list", "externalsecrets").then(page<KubeExternalSecret>);
    },
    patchExternalSecret(namespace, name, patch) {
      return call(
        (c) => custom.patchNamespacedCustomObject({ ...ESO, namespace, name, body: patch }, c),
        "patch",
        "externalsecrets",
        namespace,
        mergePatch,
      ).then(plain<KubeExternalSecret>);
    },
    patchClusterExternalSecret(name, patch) {
      return call(
        (c) => custom.patchClusterCustomObject({ ...ESO, plural: "clusterexternalsecrets", name, body: patch }, c),
        "patch",
        "clusterexternalsecrets",
        undefined,
        mergePatch,
      ).then(plain<unknown>);
    },
    listPods(o) {
      return call((c) => core.listPodForAllNamespaces(listParams(o), c), "list", "pods").then(page<KubePod>);
    },
    listEvents(o) {
      return call((c) => core.listEventForAllNamespaces(listParams(o), c), "list", "events").then(page<KubeEvent>);
    },
    async listNamespacedPods(namespace, o) {
      try {
        return page<KubePod>(await core.listNamespacedPod({ namespace, ...listParams(o) }));
      } catch (error) {
        throw fail(error, "list", "pods", namespace);
      }
    },
    async listNamespacedEvents(namespace, o) {
      try {
        return page<KubeEvent>(await core.listNamespacedEvent({ namespace, ...listParams(o) }));
      } catch (error) {
        throw fail(error, "list", "events", namespace);
      }
    },
    async close() {
      const d = dispatcher as { close?: () => Promise<void> } | undefined;
      await d?.close?.();
    },
  };
}

function findCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z0-9_]+$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
