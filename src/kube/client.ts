/**
 * `KubeApi` over `@kubernetes/client-node`, loaded lazily (`await import`) so that the
 * rotate-only path never pays for it. One undici dispatcher (keep-alive connection pool) is
 * shared by every request of a client; call `close()` when done.
 */
import { DeadlineExceededError, NO_DEADLINE, type Deadline } from "../shared/deadline";
import type { KubeConnection } from "./types";
import { scrub } from "./redact";
import { networkErrorCode, parseRetryAfter } from "./retry";
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

/** Total time one request may take (bounded by the deadline); as in ./http-client. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface ClientNodeOptions {
  /** Total timeout of one request (default 30 s), bounded by `deadline`. */
  timeoutMs?: number;
  /** The invocation's deadline: a request in flight when it passes is aborted. */
  deadline?: Deadline;
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
  const mergePatchHeader = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

  /**
   * Runs one request with a total timer (not an idle one): min(timeoutMs, time to the
   * deadline). The request's fetch gets an AbortSignal that fires with the timer.
   */
  type CallOptions = { middleware: unknown[]; middlewareMergeStrategy: "append" };
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
      timer = setTimeout(() => {
        abort.abort();
        reject(byDeadline ? new DeadlineExceededError(what) : Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" }));
      }, Math.min(timeoutMs, left));
    });
    try {
      return await Promise.race([send({ middleware: [...(base?.middleware ?? []), signalMiddleware], middlewareMergeStrategy: "append" }), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
  const asOptions = (o: CallOptions) => o as unknown as Parameters<typeof core.listNamespace>[1];

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
    const networkCode = networkErrorCode(error);
    if (networkCode) return new KubeApiError(0, "", { ...where, networkCode });
    // TLS verification failures and the like: not retryable, reported by code only.
    const code = findCode(error);
    return new KubeApiError(-1, `request failed${code ? ` (${code})` : ""}`, where);
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

  return {
    async listNamespaces(o) {
      try {
        return page<KubeNamespace>(await timed("listNamespace", (c) => core.listNamespace(listParams(o), asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "namespaces");
      }
    },
    async listSecrets(o) {
      try {
        return page<KubeSecret>(await timed("listSecretForAllNamespaces", (c) => core.listSecretForAllNamespaces(listParams(o), asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "secrets");
      }
    },
    async listNamespacedSecrets(namespace, o) {
      try {
        return page<KubeSecret>(await timed("listNamespacedSecret", (c) => core.listNamespacedSecret({ namespace, ...listParams(o) }, asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "secrets", namespace);
      }
    },
    readSecret(namespace, name) {
      return orUndefinedOn404(timed("readNamespacedSecret", (c) => core.readNamespacedSecret({ name, namespace }, asOptions(c))).then(plain<KubeSecret>), "get", "secrets", namespace);
    },
    async createSecret(namespace, body) {
      try {
        return plain<KubeSecret>(await timed("createNamespacedSecret", (c) => core.createNamespacedSecret({ namespace, body: { apiVersion: "v1", kind: "Secret", ...body } as V1Secret }, asOptions(c))));
      } catch (error) {
        throw fail(error, "create", "secrets", namespace);
      }
    },
    async patchSecret(namespace, name, patch: MergePatch) {
      try {
        return plain<KubeSecret>(await timed("patchNamespacedSecret", (c) => core.patchNamespacedSecret({ name, namespace, body: patch }, asOptions(c)), mergePatchHeader));
      } catch (error) {
        throw fail(error, "patch", "secrets", namespace);
      }
    },
    async listServiceAccounts(o) {
      try {
        return page<KubeServiceAccount>(await timed("listServiceAccountForAllNamespaces", (c) => core.listServiceAccountForAllNamespaces(listParams(o), asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "serviceaccounts");
      }
    },
    async listNamespacedServiceAccounts(namespace, o) {
      try {
        return page<KubeServiceAccount>(await timed("listNamespacedServiceAccount", (c) => core.listNamespacedServiceAccount({ namespace, ...listParams(o) }, asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "serviceaccounts", namespace);
      }
    },
    readServiceAccount(namespace, name) {
      return orUndefinedOn404(timed("readNamespacedServiceAccount", (c) => core.readNamespacedServiceAccount({ name, namespace }, asOptions(c))).then(plain<KubeServiceAccount>), "get", "serviceaccounts", namespace);
    },
    async patchServiceAccount(namespace, name, patch) {
      try {
        return plain<KubeServiceAccount>(await timed("patchNamespacedServiceAccount", (c) => core.patchNamespacedServiceAccount({ name, namespace, body: patch }, asOptions(c)), mergePatchHeader));
      } catch (error) {
        throw fail(error, "patch", "serviceaccounts", namespace);
      }
    },
    async listExternalSecrets(o) {
      try {
        return page<KubeExternalSecret>(await timed("listClusterCustomObject", (c) => custom.listClusterCustomObject({ ...ESO, ...listParams(o) }, asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "externalsecrets");
      }
    },
    async patchExternalSecret(namespace, name, patch) {
      try {
        return plain<KubeExternalSecret>(await timed("patchNamespacedCustomObject", (c) => custom.patchNamespacedCustomObject({ ...ESO, namespace, name, body: patch }, asOptions(c)), mergePatchHeader));
      } catch (error) {
        throw fail(error, "patch", "externalsecrets", namespace);
      }
    },
    async listPods(o) {
      try {
        return page<KubePod>(await timed("listPodForAllNamespaces", (c) => core.listPodForAllNamespaces(listParams(o), asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "pods");
      }
    },
    async listEvents(o) {
      try {
        return page<KubeEvent>(await timed("listEventForAllNamespaces", (c) => core.listEventForAllNamespaces(listParams(o), asOptions(c))));
      } catch (error) {
        throw fail(error, "list", "events");
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
