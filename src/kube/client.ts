/**
 * `KubeApi` over `@kubernetes/client-node`, loaded lazily (`await import`) so that the
 * rotate-only path never pays for it. One undici dispatcher (keep-alive connection pool) is
 * shared by every request of a client; call `close()` when done.
 */
import type { KubeConnection } from "./types";
import { scrub } from "../shared/redact-text";
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

export async function createKubeApi(connection: KubeConnection): Promise<KubeApi> {
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

  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

  const fail = (error: unknown, verb: KubeVerb, resource: KubeResource, namespace?: string): KubeApiError => {
    const where = { verb, resource, ...(namespace ? { namespace } : {}) };
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
    const url = new URL(connection.server).origin;
    if (networkCode) return new KubeApiError(0, "", { ...where, networkCode, url });
    // TLS verification failures and the like: not retryable, reported by code only.
    const code = findCode(error);
    return new KubeApiError(-1, `request to ${url} failed${code ? ` (${code})` : ""}`, { ...where, url });
  };

  const page = <T>(list: { items?: unknown[]; metadata?: { _continue?: string; continue?: string } }): ListPage<T> => {
    const next = list.metadata?._continue ?? list.metadata?.continue;
    return { items: (list.items ?? []) as T[], ...(next ? { continue: next } : {}) };
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
      if (e.status === 404) return undefined;
      throw e;
    });
  const plain = <T>(value: unknown): T => value as T;
  /** One client-node call; whatever it throws becomes a KubeApiError for (verb, resource, namespace). */
  const call = async <T>(request: () => Promise<T>, verb: KubeVerb, resource: KubeResource, namespace?: string): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      throw fail(error, verb, resource, namespace);
    }
  };

  return {
    listNamespaces(o) {
      return call(() => core.listNamespace(listParams(o)), "list", "namespaces").then(page<KubeNamespace>);
    },
    listSecrets(o) {
      return call(() => core.listSecretForAllNamespaces(listParams(o)), "list", "secrets").then(page<KubeSecret>);
    },
    listNamespacedSecrets(namespace, o) {
      return call(() => core.listNamespacedSecret({ namespace, ...listParams(o) }), "list", "secrets", namespace).then(page<KubeSecret>);
    },
    readSecret(namespace, name) {
      return orUndefinedOn404(core.readNamespacedSecret({ name, namespace }).then(plain<KubeSecret>), "get", "secrets", namespace);
    },
    createSecret(namespace, body) {
      return call(() => core.createNamespacedSecret({ namespace, body: { apiVersion: "v1", kind: "Secret", ...body } }), "create", "secrets", namespace).then(
        plain<KubeSecret>,
      );
    },
    patchSecret(namespace, name, patch: MergePatch) {
      return call(() => core.patchNamespacedSecret({ name, namespace, body: patch }, mergePatch), "patch", "secrets", namespace).then(plain<KubeSecret>);
    },
    listServiceAccounts(o) {
      return call(() => core.listServiceAccountForAllNamespaces(listParams(o)), "list", "serviceaccounts").then(page<KubeServiceAccount>);
    },
    listNamespacedServiceAccounts(namespace, o) {
      return call(() => core.listNamespacedServiceAccount({ namespace, ...listParams(o) }), "list", "serviceaccounts", namespace).then(
        page<KubeServiceAccount>,
      );
    },
    readServiceAccount(namespace, name) {
      return orUndefinedOn404(core.readNamespacedServiceAccount({ name, namespace }).then(plain<KubeServiceAccount>), "get", "serviceaccounts", namespace);
    },
    patchServiceAccount(namespace, name, patch) {
      return call(() => core.patchNamespacedServiceAccount({ name, namespace, body: patch }, mergePatch), "patch", "serviceaccounts", namespace).then(
        plain<KubeServiceAccount>,
      );
    },
    listExternalSecrets(o) {
      return call(() => custom.listClusterCustomObject({ ...ESO, ...listParams(o) }), "list", "externalsecrets").then(page<KubeExternalSecret>);
    },
    patchExternalSecret(namespace, name, patch) {
      return call(() => custom.patchNamespacedCustomObject({ ...ESO, namespace, name, body: patch }, mergePatch), "patch", "externalsecrets", namespace).then(
        plain<KubeExternalSecret>,
      );
    },
    listPods(o) {
      return call(() => core.listPodForAllNamespaces(listParams(o)), "list", "pods").then(page<KubePod>);
    },
    listEvents(o) {
      return call(() => core.listEventForAllNamespaces(listParams(o)), "list", "events").then(page<KubeEvent>);
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
