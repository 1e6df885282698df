/**
 * Reads what a diagnosis needs from one cluster, read-only, with a bounded number of requests:
 * one paginated LIST of namespaces, one of pods (cluster-wide), one of `Failed` pod Events, then
 * one GET per distinct ServiceAccount and per distinct referenced Secret of the stuck pods.
 * Each Secret is reduced on arrival (hosts, user names, embedded ECR expiry): no password,
 * `auth` or docker config survives this module. RBAC: get/list on pods, events, secrets,
 * serviceaccounts, namespaces — nothing else.
 */
import { credentialsOfEntry, parseDockerConfig, type DockerConfigEntry } from "../formats/dockerconfig";
import { expiryEmbeddedInPassword } from "../formats/ecr-token";
import { scrub } from "../kube/redact";
import { classify as classifyFailure, DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from "../kube/retry";
import { selectNamespaces, type NamespaceTarget } from "../kube/namespaces";
import { KubeApiError, type KubeApi, type KubeNamespace, type KubePod, type KubeSecret, type ListOptions, type ListPage } from "../kube/types";
import { classifyStuckContainer, type ReducedEntry, type ReducedSecret } from "./classify";
import type { ClusterDiagnosis, StuckContainerReport } from "../report/report";

/** Waiting reasons of a container stuck on its image (Container Insights counts the same three). */
export const STUCK_REASONS: readonly string[] = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

export interface DiagnoseTarget {
  namespaces: NamespaceTarget;
  /** Registry hosts this deployment keeps fresh. */
  configuredHosts: string[];
  /** The pull secret the product writes. */
  pullSecretName: string;
}

export interface DiagnoseDeps {
  api: KubeApi;
  now?: () => Date;
  pageSize?: number;
  /**
   * Page size of the pod LIST (default 200): a pod object is several KB of JSON, and a page is
   * parsed whole — 200 keeps a page to a few MB inside the Lambda's 128 MB.
   */
  podPageSize?: number;
  /** At most this many stuck containers are diagnosed (the rest are counted). Default 200. */
  maxStuck?: number;
  /** Parallel GETs. Default 8. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
}

/** A Secret reduced to what a diagnosis needs; its credential material is dropped here. */
export function reduceSecret(name: string, secret: KubeSecret | undefined): ReducedSecret {
  if (secret === undefined) return { name, exists: false, entries: [] };
  const type = secret.type ?? "Opaque";
  const reduced: ReducedSecret = { name, exists: true, type, entries: [] };
  const key = type === "kubernetes.io/dockercfg" ? ".dockercfg" : type === "kubernetes.io/dockerconfigjson" ? ".dockerconfigjson" : undefined;
  if (key === undefined) return reduced;
  const raw = secret.data?.[key];
  if (raw === undefined) {
    reduced.invalid = `no ${key} key`;
    return reduced;
  }
  let auths: Record<string, DockerConfigEntry>;
  try {
    const text = Buffer.from(raw, "base64").toString("utf8");
    if (key === ".dockercfg") {
      const value: unknown = JSON.parse(text);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("the docker config is not a JSON object");
      auths = value as Record<string, DockerConfigEntry>;
    } else auths = parseDockerConfig(text).auths;
  } catch (error) {
    // parseDockerConfig's messages never carry content; JSON.parse's might: use a fixed text.
    reduced.invalid = error instanceof SyntaxError ? "the docker config is not valid JSON" : (error as Error).message;
    return reduced;
  }
  for (const [host, entry] of Object.entries(auths)) {
    const out: ReducedEntry = { key: host };
    if (typeof entry === "object" && entry !== null) {
      const creds = credentialsOfEntry(entry);
      if (creds) {
        out.username = creds.username;
        const expiresAt = expiryEmbeddedInPassword(creds.password);
        if (expiresAt) out.expiresAt = expiresAt;
      }
    }
    reduced.entries.push(out);
  }
  return reduced;
}

interface Stuck {
  namespace: string;
  pod: string;
  uid?: string;
  container: string;
  image: string;
  reason: string;
  message?: string;
  serviceAccountName?: string;
  pullSecrets: string[];
}

/** The stuck containers of one pod (init containers included). */
export function stuckContainersOf(pod: KubePod): Stuck[] {
  const out: Stuck[] = [];
  const specImages = new Map<string, string>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) if (c.image) specImages.set(c.name, c.image);
  const pullSecrets = [...new Set((pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? "").filter((n) => n !== ""))];
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = status.state?.waiting;
    if (!waiting?.reason || !STUCK_REASONS.includes(waiting.reason)) continue;
    out.push({
      namespace: pod.metadata.namespace ?? "",
      pod: pod.metadata.name,
      ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
      container: status.name,
      image: specImages.get(status.name) ?? status.image ?? "",
      reason: waiting.reason,
      ...(waiting.message ? { message: waiting.message } : {}),
      ...(pod.spec?.serviceAccountName ? { serviceAccountName: pod.spec.serviceAccountName } : {}),
      pullSecrets,
    });
  }
  return out;
}

async function pool<T>(items: readonly T[], concurrency: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

const describe = (error: unknown, what: string): string => {
  if (error instanceof KubeApiError) {
    const kind = classifyFailure(error).kind;
    return `${what}: ${error.status === 0 ? `network error ${error.details.networkCode ?? ""}`.trim() : `${error.status}${error.message ? ` ${scrub(error.message)}` : ""}`} (${kind})`;
  }
  return `${what}: ${scrub(error instanceof Error ? error.message : String(error))}`;
};

/** Finds every container stuck pulling its image in the target namespaces, and says why. */
export async function diagnoseCluster(target: DiagnoseTarget, deps: DiagnoseDeps): Promise<ClusterDiagnosis> {
  const started = Date.now();
  const now = (deps.now ?? (() => new Date()))();
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...deps.retry };
  const hooks = deps.sleep ? { sleep: deps.sleep } : {};
  const pageSize = deps.pageSize ?? 500;
  const maxStuck = deps.maxStuck ?? 200;
  let requests = 0;
  const api = deps.api;
  const listAll = async <T>(list: (o: ListOptions) => Promise<ListPage<T>>, options: Omit<ListOptions, "limit" | "continue">, each: (item: T) => void, limit = pageSize) => {
    let token: string | undefined;
    do {
      const page = await withRetry(() => (requests++, list({ ...options, limit, ...(token ? { continue: token } : {}) })), policy, hooks);
      for (const item of page.items) each(item);
      token = page.continue || undefined;
    } while (token);
  };
  const get = <T>(read: () => Promise<T>) => withRetry(() => (requests++, read()), policy, hooks);

  const diagnosis: ClusterDiagnosis = { podsScanned: 0, stuck: [], errors: [] };

  // Namespaces in scope.
  const namespaces: KubeNamespace[] = [];
  const nsTarget = target.namespaces;
  await listAll((o) => api.listNamespaces(o), nsTarget.mode === "selector" ? { labelSelector: nsTarget.labelSelector } : {}, (n) =>
    void namespaces.push({ metadata: { name: n.metadata.name, labels: n.metadata.labels ?? {} }, status: { phase: n.status?.phase ?? "Active" } }),
  );
  const selection = selectNamespaces(nsTarget, namespaces);
  const inScope = new Set([...selection.selected, ...selection.skipped.map((s) => s.namespace)]);

  // Stuck containers (pods are reduced on arrival; finished pods are filtered by the server).
  const stuck: Stuck[] = [];
  let overflow = 0;
  await listAll((o) => api.listPods(o), { fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" }, (pod) => {
    if (!inScope.has(pod.metadata.namespace ?? "")) return;
    diagnosis.podsScanned++;
    for (const s of stuckContainersOf(pod)) {
      if (stuck.length < maxStuck) stuck.push(s);
      else overflow++;
    }
  }, deps.podPageSize ?? deps.pageSize ?? 200);
  if (overflow > 0) diagnosis.truncated = overflow;
  if (stuck.length === 0) {
    diagnosis.durationMs = Date.now() - started;
    diagnosis.requests = requests;
    if (diagnosis.errors!.length === 0) delete diagnosis.errors;
    return diagnosis;
  }

  // Events about those pods (the kubelet's "Failed to pull image …: <why>").
  const stuckPods = new Set(stuck.map((s) => `${s.namespace}/${s.pod}`));
  const events = new Map<string, Array<{ at: string; message: string }>>();
  try {
    await listAll((o) => api.listEvents(o), { fieldSelector: "involvedObject.kind=Pod,reason=Failed" }, (e) => {
      const key = `${e.involvedObject?.namespace ?? e.metadata.namespace ?? ""}/${e.involvedObject?.name ?? ""}`;
      if (!stuckPods.has(key) || !e.message) return;
      const list = events.get(key) ?? [];
      list.push({ at: e.lastTimestamp ?? e.eventTime ?? "", message: e.message });
      list.sort((a, b) => a.at.localeCompare(b.at));
      if (list.length > 3) list.shift();
      events.set(key, list);
    });
  } catch (error) {
    diagnosis.errors!.push(describe(error, "events could not be listed"));
  }

  // ServiceAccounts and referenced Secrets: one GET per distinct one.
  const saKeys = [...new Set(stuck.map((s) => `${s.namespace}/${s.serviceAccountName || "default"}`))];
  const secretKeys = [...new Set(stuck.flatMap((s) => s.pullSecrets.map((n) => `${s.namespace}/${n}`)))];
  const serviceAccounts = new Map<string, string[] | undefined>();
  const secrets = new Map<string, ReducedSecret | { error: string }>();
  const concurrency = deps.concurrency ?? 8;
  const split = (key: string) => {
    const slash = key.indexOf("/");
    return [key.slice(0, slash), key.slice(slash + 1)] as const;
  };
  await pool([...saKeys.map((k) => ({ kind: "sa" as const, k })), ...secretKeys.map((k) => ({ kind: "secret" as const, k }))], concurrency, async ({ kind, k }) => {
    const [ns, name] = split(k);
    if (kind === "sa") {
      try {
        const sa = await get(() => api.readServiceAccount(ns, name));
        serviceAccounts.set(k, sa ? (sa.imagePullSecrets ?? []).map((r) => r.name ?? "").filter((n) => n !== "") : undefined);
      } catch (error) {
        serviceAccounts.set(k, undefined);
        diagnosis.errors!.push(describe(error, `ServiceAccount ${k} could not be read`));
      }
    } else {
      try {
        secrets.set(k, reduceSecret(name, await get(() => api.readSecret(ns, name))));
      } catch (error) {
        const message = describe(error, `Secret ${k} could not be read`);
        secrets.set(k, { error: message });
        diagnosis.errors!.push(message);
      }
    }
  });

  for (const s of stuck) {
    const reduced = s.pullSecrets.map((n) => secrets.get(`${s.namespace}/${n}`));
    const unreadable = reduced.filter((r): r is { error: string } => r !== undefined && "error" in r);
    const row: StuckContainerReport = {
      namespace: s.namespace,
      pod: s.pod,
      container: s.container,
      image: s.image,
      reason: s.reason,
      causes: [],
    };
    if (s.message) row.message = scrub(s.message);
    if (unreadable.length > 0) {
      row.causes = [{ code: "unknown", message: unreadable.map((u) => u.error).join("; "), hint: "grant get on secrets (infra/k8s/rbac.yaml) and diagnose again" }];
    } else {
      const saPulls = serviceAccounts.get(`${s.namespace}/${s.serviceAccountName || "default"}`);
      row.causes = classifyStuckContainer({
        namespace: s.namespace,
        pod: s.pod,
        container: s.container,
        image: s.image,
        reason: s.reason,
        ...(s.message ? { message: s.message } : {}),
        ...(s.serviceAccountName ? { serviceAccountName: s.serviceAccountName } : {}),
        podPullSecrets: s.pullSecrets,
        ...(saPulls !== undefined ? { serviceAccountPullSecrets: saPulls } : {}),
        secrets: reduced as ReducedSecret[],
        events: (events.get(`${s.namespace}/${s.pod}`) ?? []).map((e) => e.message),
        configuredHosts: target.configuredHosts,
        pullSecretName: target.pullSecretName,
        now,
      });
    }
    diagnosis.stuck.push(row);
  }
  diagnosis.stuck.sort((a, b) => `${a.namespace}/${a.pod}/${a.container}`.localeCompare(`${b.namespace}/${b.pod}/${b.container}`));
  diagnosis.requests = requests;
  diagnosis.durationMs = Date.now() - started;
  if (diagnosis.errors!.length === 0) delete diagnosis.errors;
  return diagnosis;
}
