/**
 * `KubeApi` over `@kubernetes/client-node`, loaded lazily (`await import`) so that the
 * rotate-only path never pays for it. One undici dispatcher (keep-alive connection pool) is
 * shared by every request of a client; call `close()` when done.
 */
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

  return {
    async listNamespaces(o) {
      try {
        return page<KubeNamespace>(await core.listNamespace(listParams(o)));
      } catch (error) {
        throw fail(error, "list", "namespaces");
      }
    },
    async listSecrets(o) {
      try {
        return page<KubeSecret>(await core.listSecretForAllNamespaces(listParams(o)));
      } catch (error) {
        throw fail(error, "list", "secrets");
      }
    },
    async listNamespacedSecrets(namespace, o) {
      try {
        return page<KubeSecret>(await core.listNamespacedSecret({ namespace, ...listParams(o) }));
      } catch (error) {
        throw fail(error, "list", "secrets", namespace);
      }
    },
    readSecret(namespace, name) {
      return orUndefinedOn404(core.readNamespacedSecret({ name, namespace }).then(plain<KubeSecret>), "get", "secrets", namespace);
    },
    async createSecret(namespace, body) {
      try {
        return plain<KubeSecret>(await core.createNamespacedSecret({ namespace, body: { apiVersion: "v1", kind: "Secret", ...body } }));
      } catch (error) {
        throw fail(error, "create", "secrets", namespace);
      }
    },
    async patchSecret(namespace, name, patch: MergePatch) {
      try {
        return plain<KubeSecret>(await core.patchNamespacedSecret({ name, namespace, body: patch }, mergePatch));
      } catch (error) {
        throw fail(error, "patch", "secrets", namespace);
      }
    },
    async listServiceAccounts(o) {
      try {
        return page<KubeServiceAccount>(await core.listServiceAccountForAllNamespaces(listParams(o)));
      } catch (error) {
        throw fail(error, "list", "serviceaccounts");
      }
    },
    async listNamespacedServiceAccounts(namespace, o) {
      try {
        return page<KubeServiceAccount>(await core.listNamespacedServiceAccount({ namespace, ...listParams(o) }));
      } catch (error) {
        throw fail(error, "list", "serviceaccounts", namespace);
      }
    },
    readServiceAccount(namespace, name) {
      return orUndefinedOn404(core.readNamespacedServiceAccount({ name, namespace }).then(plain<KubeServiceAccount>), "get", "serviceaccounts", namespace);
    },
    async patchServiceAccount(namespace, name, patch) {
      try {
        return plain<KubeServiceAccount>(await core.patchNamespacedServiceAccount({ name, namespace, body: patch }, mergePatch));
      } catch (error) {
        throw fail(error, "patch", "serviceaccounts", namespace);
      }
    },
    async listExternalSecrets(o) {
      try {
        return page<KubeExternalSecret>(await custom.listClusterCustomObject({ ...ESO, ...listParams(o) }));
      } catch (error) {
        throw fail(error, "list", "externalsecrets");
      }
    },
    async patchExternalSecret(namespace, name, patch) {
      try {
        return plain<KubeExternalSecret>(await custom.patchNamespacedCustomObject({ ...ESO, namespace, name, body: patch }, mergePatch));
      } catch (error) {
        throw fail(error, "patch", "externalsecrets", namespace);
      }
    },
    async listPods(o) {
      try {
        return page<KubePod>(await core.listPodForAllNamespaces(listParams(o)));
      } catch (error) {
        throw fail(error, "list", "pods");
      }
    },
    async listEvents(o) {
      try {
        return page<KubeEvent>(await core.listEventForAllNamespaces(listParams(o)));
      } catch (error) {
        throw fail(error, "list", "events");
      }
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
