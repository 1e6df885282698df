/**
 * The Kubernetes apply engine: writes the pull Secret into every target namespace of one cluster,
 * optionally patches ServiceAccounts and re-syncs ExternalSecrets.
 *
 * Request budget in steady state: a few cluster-wide paginated LISTs (namespaces; Secrets and
 * ServiceAccounts with `fieldSelector=metadata.name=<name>`; ExternalSecrets by label) and then
 * at most ONE write per namespace (none when nothing changed). The default transport is
 * node:https (./http-client, loaded lazily); `@kubernetes/client-node` (./client) is optional.
 */
import { serializeDockerConfig, type DockerConfig, type RegistryLogin } from "../formats/dockerconfig";
import { decideSecret, decideServiceAccount, forceSyncPatch, summarizeSecret, type SecretDecision, type SecretSummary } from "./decide";
import { isValidNamespaceName, parseLabelSelector, selectNamespaces, type NamespaceTarget } from "./namespaces";
import { scrub, secretValuesOf } from "./redact";
import { classify, DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from "./retry";
import { KubeApiError, type KubeApi, type KubeNamespace, type KubeResource, type KubeServiceAccount, type KubeVerb, type ListOptions, type ListPage } from "./types";

export interface KubeConnection {
  /** API server URL, e.g. the EKS endpoint `https://XXXX.gr7.us-east-1.eks.amazonaws.com`. */
  server: string;
  /** Base64 PEM of the cluster CA (EKS `certificateAuthority.data`). */
  caData: string;
  /** Bearer token (an EKS token `k8s-aws-v1.…`, refreshed by the caller). */
  token: string;
}

export interface ClusterTarget {
  /** Cluster name, for the report. */
  cluster: string;
  namespaces: NamespaceTarget;
  /** Name of the pull Secret, e.g. `ecr-pull-secret`. */
  pullSecretName: string;
  /** ServiceAccounts whose `imagePullSecrets` gain the Secret, e.g. `["default"]`; `[]` = none. */
  patchServiceAccounts: string[];
  /** Annotate matching ExternalSecrets with `force-sync=<unix seconds>`; undefined = off. */
  esoResync?: { labelSelector: string };
  /** Bounded parallel requests, e.g. 16. */
  concurrency: number;
  /** Overwrite a same-named dockerconfigjson Secret that is not labelled as ours. */
  adoptUnmanaged: boolean;
  /** Compute and report every write, write nothing. */
  dryRun: boolean;
}

export type NamespaceOutcome = "created" | "updated" | "unchanged" | "conflict" | "failed" | "skipped";

export interface NamespaceResult {
  namespace: string;
  outcome: NamespaceOutcome;
  /** Why (conflict, failed, skipped), or a remark (adopted, replaced invalid content). No secrets. */
  reason?: string;
  /** ServiceAccounts given the pull secret (or that would be, in a dry run). */
  serviceAccountsPatched?: string[];
  /** Requested ServiceAccounts that do not exist in this namespace (reported, not created). */
  serviceAccountsMissing?: string[];
  serviceAccountsFailed?: Array<{ name: string; reason: string }>;
  /** Dry run: a write would have been made for this namespace. */
  wouldWrite?: boolean;
  /** Attempts the Secret write took (only when > 1). */
  attempts?: number;
}

export interface ClusterApplyResult {
  cluster: string;
  dryRun: boolean;
  pullSecretName: string;
  /** One entry per target namespace, sorted by name. */
  namespaces: NamespaceResult[];
  counts: Record<NamespaceOutcome, number>;
  serviceAccounts: {
    /** `namespace/name` */
    patched: string[];
    unchanged: number;
    missing: string[];
    failed: Array<{ serviceAccount: string; reason: string }>;
  };
  externalSecrets: {
    enabled: boolean;
    /** `namespace/name` of ExternalSecrets annotated (or that would be). */
    resynced: string[];
    failed: Array<{ externalSecret: string; reason: string }>;
  };
  /** Cluster-level problems (e.g. the namespace LIST failed). */
  errors: string[];
  /** What the writes mean for running pods, and any degraded mode used. */
  notes: string[];
  /** Kubernetes API requests made (including retries). */
  requests: number;
  durationMs: number;
  /** No failed namespace, ServiceAccount, ExternalSecret, and no cluster-level error. */
  ok: boolean;
}

export interface ApplyDeps {
  now?: () => Date;
  /**
   * The API to use (the caller then closes it). Default: the node:https adapter of
   * ./http-client for `connection`. For `@kubernetes/client-node`, pass
   * `await (await import("./client")).createKubeApi(connection)`: this module never references
   * ./client, so no bundle of it carries client-node.
   */
  api?: KubeApi;
  onProgress?: (done: number, total: number) => void;
  retry?: Partial<RetryPolicy>;
  /** For tests: replaces the backoff sleep. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Page size of the cluster-wide LISTs of namespaces, ServiceAccounts, ExternalSecrets (default 500). */
  pageSize?: number;
  /**
   * Page size of the cluster-wide Secret LIST (default 200): each pull secret carries ~8 KB of
   * docker config with real ECR tokens, so a 500-item page alone costs ~20 MB of transient memory.
   */
  secretPageSize?: number;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks a target before anything is sent; throws a precise message. */
export function validateTarget(target: ClusterTarget, logins: readonly RegistryLogin[]): void {
  if (logins.length === 0) throw new Error("no registry logins to apply");
  if (!DNS_SUBDOMAIN.test(target.pullSecretName) || target.pullSecretName.length > 253) {
    throw new Error(`invalid pull secret name "${target.pullSecretName}" (must be a DNS subdomain)`);
  }
  for (const sa of target.patchServiceAccounts) {
    if (!DNS_SUBDOMAIN.test(sa) || sa.length > 253) throw new Error(`invalid ServiceAccount name "${sa}"`);
  }
  if (!Number.isInteger(target.concurrency) || target.concurrency < 1 || target.concurrency > 256) {
    throw new Error(`concurrency must be an integer from 1 to 256, got ${target.concurrency}`);
  }
  const ns = target.namespaces;
  if (ns.mode === "list") {
    if (ns.names.length === 0) throw new Error("namespace list is empty");
    for (const name of ns.names) if (!isValidNamespaceName(name)) throw new Error(`invalid namespace name "${name}"`);
  } else if (ns.mode === "selector") {
    if (ns.labelSelector.trim() === "") throw new Error("namespace label selector is empty");
    parseLabelSelector(ns.labelSelector);
  }
  if (target.esoResync) parseLabelSelector(target.esoResync.labelSelector);
}

/** Runs `worker` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await worker(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** Wraps every method of the API with a request counter. */
function counted(api: KubeApi, counter: { n: number }): KubeApi {
  return new Proxy(api, {
    get(targetApi, prop, receiver) {
      const value = Reflect.get(targetApi, prop, receiver) as unknown;
      if (typeof value !== "function" || prop === "close") return value;
      return (...args: unknown[]) => {
        counter.n++;
        return (value as (...a: unknown[]) => unknown).apply(targetApi, args);
      };
    },
  });
}

export async function applyToCluster(
  connection: KubeConnection,
  logins: RegistryLogin[],
  target: ClusterTarget,
  deps: ApplyDeps = {},
): Promise<ClusterApplyResult> {
  validateTarget(target, logins);
  const started = Date.now();
  const now = deps.now ?? (() => new Date());
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...deps.retry };
  const hooks = { sleep: deps.sleep, random: deps.random };
  const pageSize = deps.pageSize ?? 500;
  const secretPageSize = deps.secretPageSize ?? deps.pageSize ?? 200;
  const secrets = secretValuesOf(logins, [connection.token]);
  const name = target.pullSecretName;

  const result: ClusterApplyResult = {
    cluster: target.cluster,
    dryRun: target.dryRun,
    pullSecretName: name,
    namespaces: [],
    counts: { created: 0, updated: 0, unchanged: 0, conflict: 0, failed: 0, skipped: 0 },
    serviceAccounts: { patched: [], unchanged: 0, missing: [], failed: [] },
    externalSecrets: { enabled: target.esoResync !== undefined, resynced: [], failed: [] },
    errors: [],
    notes: [],
    requests: 0,
    durationMs: 0,
    ok: false,
  };

  const describe = (error: unknown, verb: KubeVerb, resource: KubeResource, namespace?: string): string =>
    describeFailure(error, verb, resource, namespace, secrets);

  const counter = { n: 0 };
  let ownedApi: KubeApi | undefined;
  try {
    if (!deps.api) {
      const { createHttpKubeApi } = await import("./http-client");
      ownedApi = createHttpKubeApi(connection, { maxSockets: target.concurrency });
    }
    const api = counted(deps.api ?? ownedApi!, counter);

    /** Pages through a LIST, handing each item to `each` (pages are not kept). */
    const forEachListed = async <T>(
      list: (options: ListOptions) => Promise<ListPage<T>>,
      options: Omit<ListOptions, "limit" | "continue">,
      each: (item: T) => void,
      limit = pageSize,
    ): Promise<void> => {
      let token: string | undefined;
      do {
        const page = await withRetry(() => list({ ...options, limit, ...(token ? { continue: token } : {}) }), policy, hooks);
        for (const item of page.items) each(item);
        token = page.continue || undefined;
      } while (token);
    };
    const listAll = async <T>(list: (options: ListOptions) => Promise<ListPage<T>>, options: Omit<ListOptions, "limit" | "continue">): Promise<T[]> => {
      const items: T[] = [];
      await forEachListed(list, options, (item) => void items.push(item));
      return items;
    };
    // Namespaces whose Secret has no foreign entries share one encoded docker config string.
    const encoded = new Map<string, string>();
    const encode = (merged: DockerConfig, foreign: DockerConfig | undefined): string => {
      const key = foreign ? serializeDockerConfig(foreign) : "";
      let value = encoded.get(key);
      if (value === undefined) {
        value = Buffer.from(serializeDockerConfig(merged), "utf8").toString("base64");
        if (encoded.size < 64) encoded.set(key, value);
      }
      return value;
    };

    // 1–3. The cluster-wide LISTs run concurrently: namespaces; the pull secrets
    // (fieldSelector by name, each summarised on arrival — no docker config content is kept);
    // one LIST per ServiceAccount name. A forbidden Secret/SA list falls back to one GET per
    // namespace.
    type Settled<T> = { value: T } | { error: unknown };
    const settle = <T>(p: Promise<T>): Promise<Settled<T>> => p.then((value) => ({ value }), (error: unknown) => ({ error }));
    const nsTarget = target.namespaces;
    const namespacesListing = settle(
      (async () => {
        const namespaces: KubeNamespace[] = [];
        await forEachListed((o) => api.listNamespaces(o), nsTarget.mode === "selector" ? { labelSelector: nsTarget.labelSelector } : {}, (n) => {
          namespaces.push({ metadata: { name: n.metadata.name, labels: n.metadata.labels ?? {} }, status: { phase: n.status?.phase ?? "Active" } });
        });
        return namespaces;
      })(),
    );
    const secretsListing = settle(
      (async () => {
        const found = new Map<string, SecretSummary>();
        await forEachListed(
          (o) => api.listSecrets(o),
          { fieldSelector: `metadata.name=${name}` },
          (s) => {
            const ns = s.metadata.namespace;
            if (ns && s.metadata.name === name) found.set(ns, summarizeSecret(s, logins));
          },
          secretPageSize,
        );
        return found;
      })(),
    );
    const saListings = target.patchServiceAccounts.map((sa) =>
      settle(
        (async () => {
          const byNs = new Map<string, KubeServiceAccount>();
          await forEachListed((o) => api.listServiceAccounts(o), { fieldSelector: `metadata.name=${sa}` }, (item) => {
            if (item.metadata.namespace && item.metadata.name === sa) byNs.set(item.metadata.namespace, item);
          });
          return byNs;
        })(),
      ),
    );
    const [listedNamespaces, listedSecrets, ...listedSAs] = await Promise.all([namespacesListing, secretsListing, ...saListings]);

    let selection;
    if ("value" in listedNamespaces) selection = selectNamespaces(nsTarget, listedNamespaces.value);
    else if (nsTarget.mode === "list" && classify(listedNamespaces.error).kind === "forbidden") {
      // Without list on namespaces, an explicit list can still be applied; a missing namespace
      // then shows up as a 404 on its write.
      result.notes.push(`cannot list namespaces (${describe(listedNamespaces.error, "list", "namespaces")}); applying to the configured names unchecked`);
      selection = { selected: [...new Set(nsTarget.names)].sort(), missing: [], skipped: [] };
    } else {
      result.errors.push(`listing namespaces failed: ${describe(listedNamespaces.error, "list", "namespaces")}`);
      return result;
    }
    const selected = selection.selected;
    const selectedSet = new Set(selected);
    for (const ns of selection.missing) result.namespaces.push({ namespace: ns, outcome: "failed", reason: `namespace ${ns} not found` });
    for (const s of selection.skipped) result.namespaces.push({ namespace: s.namespace, outcome: "skipped", reason: s.reason });

    let knownSecrets: Map<string, SecretSummary> | undefined;
    if ("value" in listedSecrets) knownSecrets = listedSecrets.value;
    else if (selected.length > 0) {
      result.notes.push(`cluster-wide list of secrets failed (${describe(listedSecrets.error, "list", "secrets")}); reading each namespace's secret instead`);
    }
    const knownSAs = new Map<string, Map<string, KubeServiceAccount>>();
    target.patchServiceAccounts.forEach((sa, i) => {
      const listed = listedSAs[i]!;
      if ("value" in listed) knownSAs.set(sa, listed.value);
      else if (selected.length > 0) {
        result.notes.push(`cluster-wide list of serviceaccounts "${sa}" failed (${describe(listed.error, "list", "serviceaccounts")}); reading each namespace's instead`);
      }
    });

    // 4. One task per namespace, bounded concurrency.
    let done = 0;
    const total = selected.length;
    deps.onProgress?.(0, total);
    const perNamespace: NamespaceResult[] = [];
    await pool(selected, target.concurrency, async (namespace) => {
      const r = await applyNamespace(namespace);
      perNamespace.push(r);
      done++;
      deps.onProgress?.(done, total);
    });

    async function applyNamespace(namespace: string): Promise<NamespaceResult> {
      const r: NamespaceResult = { namespace, outcome: "failed" };
      let existing: SecretSummary | undefined = knownSecrets?.get(namespace);
      let mustRead = knownSecrets === undefined;
      let op: { verb: KubeVerb } = { verb: "get" };
      let attempts = 0;
      let decision: SecretDecision | undefined;
      // A write whose response was lost (network error) may have been applied: if the re-read
      // then finds our content, report that write, not "unchanged".
      let lostWrite: "created" | "updated" | undefined;
      const noteLost = (error: unknown, what: "created" | "updated"): never => {
        if (error instanceof KubeApiError && error.status === 0) lostWrite ??= what;
        throw error;
      };
      try {
        await withRetry(
          async (attempt) => {
            attempts = attempt;
            if (mustRead) {
              op = { verb: "get" };
              const fresh = await api.readSecret(namespace, name);
              existing = fresh ? summarizeSecret(fresh, logins) : undefined;
              mustRead = false;
            }
            decision = decideSecret({ namespace, name, existing, logins, adoptUnmanaged: target.adoptUnmanaged, encode });
            if (target.dryRun) return;
            if (decision.action === "create") {
              op = { verb: "create" };
              await api.createSecret(namespace, decision.body).catch((e: unknown) => noteLost(e, "created"));
            } else if (decision.action === "update") {
              op = { verb: "patch" };
              try {
                await api.patchSecret(namespace, name, decision.patch);
              } catch (error) {
                // Deleted since we listed it: create it instead (the namespace itself may be gone,
                // then the create fails with its own 404).
                if (!(error instanceof KubeApiError && error.status === 404)) noteLost(error, "updated");
                existing = undefined;
                decision = decideSecret({ namespace, name, existing, logins, adoptUnmanaged: target.adoptUnmanaged, encode });
                op = { verb: "create" };
                if (decision.action === "create") await api.createSecret(namespace, decision.body).catch((e: unknown) => noteLost(e, "created"));
              }
            }
          },
          policy,
          { ...hooks, onConflict: async () => void (mustRead = true) },
        );
        const d = decision!;
        if (d.action === "create") r.outcome = "created";
        else if (d.action === "update") {
          r.outcome = "updated";
          const remarks = [d.adopted ? "adopted an unmanaged Secret" : "", d.replacedInvalid ? "replaced content that was not a valid docker config" : ""].filter(Boolean);
          if (remarks.length) r.reason = remarks.join("; ");
        } else if (d.action === "unchanged") {
          r.outcome = lostWrite ?? "unchanged";
          if (lostWrite) r.reason = "the response to the write was lost; a re-read confirmed it was applied";
        }
        else {
          r.outcome = "conflict";
          r.reason = d.reason;
        }
        if (target.dryRun) r.wouldWrite = d.action === "create" || d.action === "update";
      } catch (error) {
        r.outcome = "failed";
        r.reason = describe(error, op.verb, "secrets", namespace);
      }
      if (attempts > 1) r.attempts = attempts;
      if (r.outcome !== "failed" && r.outcome !== "conflict") await patchServiceAccounts(namespace, r);
      else if (target.patchServiceAccounts.length > 0 && r.outcome === "conflict") {
        r.reason += "; ServiceAccounts not patched";
      }
      return r;
    }

    async function patchServiceAccounts(namespace: string, r: NamespaceResult): Promise<void> {
      for (const saName of target.patchServiceAccounts) {
        const known = knownSAs.get(saName);
        let sa: KubeServiceAccount | undefined = known?.get(namespace);
        let mustRead = known === undefined;
        let verb: KubeVerb = "get";
        try {
          const outcome = await withRetry(
            async () => {
              if (mustRead) {
                verb = "get";
                sa = await api.readServiceAccount(namespace, saName);
                mustRead = false;
              }
              const d = decideServiceAccount(sa, name);
              if (d.action === "patch" && !target.dryRun) {
                verb = "patch";
                await api.patchServiceAccount(namespace, saName, d.patch);
              }
              return d.action;
            },
            policy,
            { ...hooks, onConflict: async () => void (mustRead = true) },
          );
          if (outcome === "patch") {
            (r.serviceAccountsPatched ??= []).push(saName);
            if (target.dryRun) r.wouldWrite = true;
          } else if (outcome === "missing") (r.serviceAccountsMissing ??= []).push(saName);
          else result.serviceAccounts.unchanged++;
        } catch (error) {
          (r.serviceAccountsFailed ??= []).push({ name: saName, reason: describe(error, verb, "serviceaccounts", namespace) });
        }
      }
    }

    result.namespaces.push(...perNamespace);
    result.namespaces.sort((a, b) => a.namespace.localeCompare(b.namespace));

    // 5. ESO re-sync in the target namespaces.
    if (target.esoResync && selected.length > 0) {
      try {
        const listed = await listAll((o) => api.listExternalSecrets(o), { labelSelector: target.esoResync.labelSelector });
        const inTarget = listed.filter((es) => es.metadata.namespace && selectedSet.has(es.metadata.namespace));
        const patch = forceSyncPatch(now());
        await pool(inTarget, target.concurrency, async (es) => {
          const ns = es.metadata.namespace!;
          const id = `${ns}/${es.metadata.name}`;
          try {
            if (!target.dryRun) await withRetry(() => api.patchExternalSecret(ns, es.metadata.name, patch), policy, hooks);
            result.externalSecrets.resynced.push(id);
          } catch (error) {
            result.externalSecrets.failed.push({ externalSecret: id, reason: describe(error, "patch", "externalsecrets", ns) });
          }
        });
        result.externalSecrets.resynced.sort();
      } catch (error) {
        const why =
          error instanceof KubeApiError && error.status === 404
            ? "the ExternalSecret API (external-secrets.io/v1) is not served by this cluster (ESO not installed?)"
            : describe(error, "list", "externalsecrets");
        result.externalSecrets.failed.push({ externalSecret: "*", reason: `listing ExternalSecrets failed: ${why}` });
      }
    }

    // Totals and notes.
    for (const n of result.namespaces) {
      result.counts[n.outcome]++;
      for (const sa of n.serviceAccountsPatched ?? []) result.serviceAccounts.patched.push(`${n.namespace}/${sa}`);
      for (const sa of n.serviceAccountsMissing ?? []) result.serviceAccounts.missing.push(`${n.namespace}/${sa}`);
      for (const f of n.serviceAccountsFailed ?? []) result.serviceAccounts.failed.push({ serviceAccount: `${n.namespace}/${f.name}`, reason: f.reason });
    }
    const verbPrefix = target.dryRun ? "would be " : "";
    if (result.counts.updated > 0) {
      result.notes.push(`${result.counts.updated} pull secret(s) ${verbPrefix}updated in place: the kubelet reads them at pull time, no pod restart needed`);
    }
    if (result.counts.created > 0) {
      result.notes.push(`${result.counts.created} pull secret(s) ${verbPrefix}created: pods reference them through imagePullSecrets (their own or their ServiceAccount's)`);
    }
    if (result.serviceAccounts.patched.length > 0) {
      result.notes.push(
        `${result.serviceAccounts.patched.length} ServiceAccount(s) ${verbPrefix}patched: only pods created from now on get the imagePullSecret; existing pods without it must be recreated`,
      );
    }
    return result;
  } catch (error) {
    result.errors.push(`apply failed: ${scrub(error instanceof Error ? error.message : String(error), secrets)}`);
    return result;
  } finally {
    if (ownedApi?.close) await ownedApi.close().catch(() => undefined);
    result.requests = counter.n;
    result.durationMs = Date.now() - started;
    result.ok =
      result.errors.length === 0 &&
      result.counts.failed === 0 &&
      result.serviceAccounts.failed.length === 0 &&
      result.externalSecrets.failed.length === 0;
  }
}

/**
 * A one-line, secret-free reason: the HTTP status, the missing permission for a 403 (verb,
 * resource, namespace), and the API server's Status message scrubbed.
 */
export function describeFailure(error: unknown, verb: KubeVerb, resource: KubeResource, namespace: string | undefined, secrets: readonly string[]): string {
  const where = namespace ? ` in namespace "${namespace}"` : " cluster-wide";
  if (error instanceof KubeApiError) {
    const message = error.message ? scrub(error.message, secrets) : "";
    const suffix = message ? `: ${message}` : "";
    switch (error.status) {
      case 0:
        return `network error (${error.details.networkCode ?? "connection failed"}) on ${verb} ${resource}${where}, retries exhausted`;
      case 401:
        return `unauthorized (401): the bearer token was rejected on ${verb} ${resource}${where}`;
      case 403:
        return `forbidden (403): missing RBAC permission "${verb}" on "${resource}"${where}${suffix}`;
      case 404:
        return namespace && (verb === "create" || verb === "patch") && /namespaces? "?[^"\s]*"? not found/.test(message)
          ? `namespace ${namespace} not found`
          : `not found (404) on ${verb} ${resource}${where}${suffix}`;
      case 409:
        return `conflict (409) on ${verb} ${resource}${where}, retries exhausted${suffix}`;
      case 429:
        return `throttled (429) on ${verb} ${resource}${where}, retries exhausted${suffix}`;
      default:
        return `HTTP ${error.status} on ${verb} ${resource}${where}${error.status >= 500 ? ", retries exhausted" : ""}${suffix}`;
    }
  }
  const code = classify(error).kind === "network" ? " (network error, retries exhausted)" : "";
  const text = error instanceof Error ? error.message : String(error);
  return `${verb} ${resource}${where} failed${code}: ${scrub(text, secrets)}`;
}
