/**
 * Reads what a diagnosis needs from one cluster, read-only, with a bounded number of requests:
 * one paginated LIST of namespaces, one of pods (cluster-wide), one of `Failed` pod Events, then
 * one GET per distinct ServiceAccount and per distinct referenced Secret of the stuck pods.
 * Each Secret is reduced on arrival (hosts, user names, embedded ECR expiry): no password,
 * `auth` or docker config survives this module. RBAC: get/list on pods, events, secrets,
 * serviceaccounts, namespaces — nothing else.
 */
import { scrub } from "../shared/redact-text";
import { classify as classifyFailure, DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from "../kube/retry";
import type { Deadline } from "../shared/deadline";
import { LARGE_LIST_PAGE_SIZE, LIST_PAGE_SIZE } from "../shared/names";
import { counted, forEachListed, pool, reducedNamespace, type Paging } from "../kube/paging";
import { selectNamespaces, type NamespaceTarget } from "../kube/namespaces";
import { KubeApiError, type KubeApi, type KubeNamespace } from "../kube/types";
import { classifyStuckContainer, type ReducedSecret } from "./classify";
import { reduceSecret, stuckContainersOf, type Stuck } from "./reduce";

export { reduceSecret, STUCK_REASONS, stuckContainersOf } from "./reduce";
import type { ClusterDiagnosis, StuckContainerReport } from "../report/report";

/** Stuck containers diagnosed at most (see DiagnoseDeps.maxStuck). */
const MAX_STUCK = 200;
/** Parallel GETs of ServiceAccounts and Secrets. */
const READ_CONCURRENCY = 8;

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
  /** The invocation's deadline: no LIST page or retry starts after it. */
  deadline?: Deadline;
}

const describe = (error: unknown, what: string): string => {
  if (error instanceof KubeApiError) {
    const kind = classifyFailure(error).kind;
    return `${what}: ${error.status === 0 ? `network error ${error.details.networkCode ?? ""}`.trim() : `${error.status}${error.message ? ` ${scrub(error.message)}` : ""}`} (${kind})`;
  }
  return `${what}: ${scrub(error instanceof Error ? error.message : String(error))}`;
};

/** What one diagnosis shares: the API (requests counted), paging, retries, and the diagnosis being built. */
interface DiagnoseContext {
  target: DiagnoseTarget;
  deps: DiagnoseDeps;
  api: KubeApi;
  now: Date;
  paging: Paging;
  diagnosis: ClusterDiagnosis & { errors: string[] };
  /** A GET, retried and counted. */
  get: <T>(read: () => Promise<T>) => Promise<T>;
}

/** Finds every container stuck pulling its image in the target namespaces, and says why. */
export async function diagnoseCluster(target: DiagnoseTarget, deps: DiagnoseDeps): Promise<ClusterDiagnosis> {
  const started = Date.now();
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...deps.retry };
  const hooks = { ...(deps.sleep ? { sleep: deps.sleep } : {}), ...(deps.deadline ? { deadline: deps.deadline } : {}) };
  const counter = { n: 0 };
  const api = counted(deps.api, counter);
  const ctx: DiagnoseContext = {
    target,
    deps,
    api,
    now: (deps.now ?? (() => new Date()))(),
    paging: { limit: deps.pageSize ?? LIST_PAGE_SIZE, policy, hooks },
    diagnosis: { podsScanned: 0, stuck: [], errors: [] },
    get: (read) => withRetry(() => read(), policy, hooks),
  };
  const inScope = await namespacesInScope(ctx);
  const stuck = await listStuckContainers(ctx, inScope);
  if (stuck.length > 0) {
    const events = await recentFailureEvents(ctx, stuck);
    const { serviceAccounts, secrets } = await readReferences(ctx, stuck);
    for (const s of stuck) ctx.diagnosis.stuck.push(stuckRow(ctx, s, events, serviceAccounts, secrets));
    ctx.diagnosis.stuck.sort((a, b) => `${a.namespace}/${a.pod}/${a.container}`.localeCompare(`${b.namespace}/${b.pod}/${b.container}`));
  }
  const diagnosis: ClusterDiagnosis = ctx.diagnosis;
  diagnosis.requests = counter.n;
  diagnosis.durationMs = Date.now() - started;
  if (diagnosis.errors!.length === 0) delete diagnosis.errors;
  return diagnosis;
}

/** Namespaces in scope: the selected ones and the skipped ones (a skipped namespace's pods are still diagnosed). */
async function namespacesInScope(ctx: DiagnoseContext): Promise<Set<string>> {
  const namespaces: KubeNamespace[] = [];
  const nsTarget = ctx.target.namespaces;
  await forEachListed(
    (o) => ctx.api.listNamespaces(o),
    nsTarget.mode === "selector" ? { labelSelector: nsTarget.labelSelector } : {},
    (n) => void namespaces.push(reducedNamespace(n)),
    ctx.paging,
  );
  const selection = selectNamespaces(nsTarget, namespaces);
  return new Set([...selection.selected, ...selection.skipped.map((s) => s.namespace)]);
}

/** Stuck containers (pods are reduced on arrival; finished pods are filtered by the server), at most maxStuck. */
async function listStuckContainers(ctx: DiagnoseContext, inScope: ReadonlySet<string>): Promise<Stuck[]> {
  const maxStuck = ctx.deps.maxStuck ?? MAX_STUCK;
  const stuck: Stuck[] = [];
  let overflow = 0;
  const paging = { ...ctx.paging, limit: ctx.deps.podPageSize ?? ctx.deps.pageSize ?? LARGE_LIST_PAGE_SIZE };
  await forEachListed(
    (o) => ctx.api.listPods(o),
    { fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" },
    (pod) => {
      if (!inScope.has(pod.metadata.namespace ?? "")) return;
      ctx.diagnosis.podsScanned++;
      for (const s of stuckContainersOf(pod)) {
        if (stuck.length < maxStuck) stuck.push(s);
        else overflow++;
      }
    },
    paging,
  );
  if (overflow > 0) ctx.diagnosis.truncated = overflow;
  return stuck;
}

/** Events about the stuck pods (the kubelet's "Failed to pull image …: <why>"), the last three per pod. */
async function recentFailureEvents(ctx: DiagnoseContext, stuck: readonly Stuck[]): Promise<Map<string, Array<{ at: string; message: string }>>> {
  const stuckPods = new Set(stuck.map((s) => `${s.namespace}/${s.pod}`));
  const events = new Map<string, Array<{ at: string; message: string }>>();
  try {
    await forEachListed(
      (o) => ctx.api.listEvents(o),
      { fieldSelector: "involvedObject.kind=Pod,reason=Failed" },
      (e) => {
        const key = `${e.involvedObject?.namespace ?? e.metadata.namespace ?? ""}/${e.involvedObject?.name ?? ""}`;
        if (!stuckPods.has(key) || !e.message) return;
        const list = events.get(key) ?? [];
        list.push({ at: e.lastTimestamp ?? e.eventTime ?? "", message: e.message });
        list.sort((a, b) => a.at.localeCompare(b.at));
        if (list.length > 3) list.shift();
        events.set(key, list);
      },
      ctx.paging,
    );
  } catch (error) {
    ctx.diagnosis.errors.push(describe(error, "events could not be listed"));
  }
  return events;
}

type ReadSecrets = Map<string, ReducedSecret | { error: string }>;

/** ServiceAccounts and referenced Secrets: one GET per distinct one, `concurrency` at a time. */
async function readReferences(
  ctx: DiagnoseContext,
  stuck: readonly Stuck[],
): Promise<{ serviceAccounts: Map<string, string[] | undefined>; secrets: ReadSecrets }> {
  const { api, get, diagnosis } = ctx;
  const saKeys = [...new Set(stuck.map((s) => `${s.namespace}/${s.serviceAccountName || "default"}`))];
  const secretKeys = [...new Set(stuck.flatMap((s) => s.pullSecrets.map((n) => `${s.namespace}/${n}`)))];
  const serviceAccounts = new Map<string, string[] | undefined>();
  const secrets: ReadSecrets = new Map();
  const split = (key: string) => {
    const slash = key.indexOf("/");
    return [key.slice(0, slash), key.slice(slash + 1)] as const;
  };
  const reads = [...saKeys.map((k) => ({ kind: "sa" as const, k })), ...secretKeys.map((k) => ({ kind: "secret" as const, k }))];
  await pool(reads, ctx.deps.concurrency ?? READ_CONCURRENCY, async ({ kind, k }) => {
    const [ns, name] = split(k);
    if (kind === "sa") {
      try {
        const sa = await get(() => api.readServiceAccount(ns, name));
        serviceAccounts.set(k, sa ? (sa.imagePullSecrets ?? []).map((r) => r.name ?? "").filter((n) => n !== "") : undefined);
      } catch (error) {
        serviceAccounts.set(k, undefined);
        diagnosis.errors.push(describe(error, `ServiceAccount ${k} could not be read`));
      }
    } else {
      try {
        secrets.set(k, reduceSecret(name, await get(() => api.readSecret(ns, name))));
      } catch (error) {
        const message = describe(error, `Secret ${k} could not be read`);
        secrets.set(k, { error: message });
        diagnosis.errors.push(message);
      }
    }
  });
  return { serviceAccounts, secrets };
}

/** One report row: the container and its causes (an unreadable Secret is the cause when there is one). */
function stuckRow(
  ctx: DiagnoseContext,
  s: Stuck,
  events: Map<string, Array<{ at: string; message: string }>>,
  serviceAccounts: Map<string, string[] | undefined>,
  secrets: ReadSecrets,
): StuckContainerReport {
  const reduced = s.pullSecrets.map((n) => secrets.get(`${s.namespace}/${n}`));
  const unreadable = reduced.filter((r): r is { error: string } => r !== undefined && "error" in r);
  const row: StuckContainerReport = { namespace: s.namespace, pod: s.pod, container: s.container, image: s.image, reason: s.reason, causes: [] };
  if (s.message) row.message = scrub(s.message);
  if (unreadable.length > 0) {
    row.causes = [
      { code: "unknown", message: unreadable.map((u) => u.error).join("; "), hint: "grant get on secrets (infra/k8s/rbac.yaml) and diagnose again" },
    ];
    return row;
  }
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
    configuredHosts: ctx.target.configuredHosts,
    pullSecretName: ctx.target.pullSecretName,
    now: ctx.now,
  });
  return row;
}
