/**
 * The Kubernetes half of a run (fallback apply, ServiceAccount patch, ESO re-sync), loaded
 * lazily by src/app/app.ts so the schedule-only path never pays for the Kubernetes/EKS code.
 * Over 300 lines: heal and diagnose share its per-cluster plumbing (connection, deadline,
 * cluster concurrency, 401 explanations); the engines themselves live in kube/ and diagnose/.
 *
 * Per selected cluster: endpoint + CA (DescribeCluster, or the configured override), an EKS
 * bearer token (cached ≤ 14 min across warm invocations), then the apply engine. Clusters run
 * in parallel, at most KUBE_CLUSTER_CONCURRENCY at once (so a fleet's wall time is close to its
 * slowest cluster, and sockets stay bounded); one failing never stops the others.
 */
import type { ClusterConfig, Config } from "../config/config";
import type { RegistryLogin } from "../formats/dockerconfig";
import type { RegistryCredential } from "../rotation/ecr";
import { createEksCredentialsProvider, getAssumedClusterAccess, getClusterAccess, sdkDescribeCluster, type ClusterAccessDeps } from "../eks/connection";
import { assumedRoleCache } from "../eks/assume-role";
import { selectClusters } from "../request/cluster-selection";
import { describeError } from "../shared/errors";
import { applyToCluster, type ApplyDeps, type ClusterApplyResult, type ClusterTarget } from "../kube/apply";
import { openKubeApi } from "../kube/open";
import { rememberSecret } from "../shared/redact";
import type { ClusterReport, KubernetesReport, NamespaceReport } from "../report/report";
import type { DiagnoseStep, KubernetesStep } from "../run/run";
import { diagnoseCluster, type DiagnoseDeps, type DiagnoseTarget } from "../diagnose/collect";
import { pool } from "../kube/paging";
import { actOnPods } from "./pod-actions";
import { KubeApiError, type KubeApi, type KubeConnection } from "../kube/types";
import { UNAUTHORIZED_CAUSES } from "../shared/next-step";
import { networkHint } from "../shared/problem";
import { problemOf } from "../kube/retry";
import type { Request } from "../request/triggers";
import { DEADLINE_REASON, isDeadlineExceeded, NO_DEADLINE, type Deadline } from "../shared/deadline";

/** `work` over every cluster, at most `limit` at once; the reports keep the clusters' order. */
export async function forEachCluster<T>(clusters: readonly ClusterConfig[], limit: number, work: (cluster: ClusterConfig) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(clusters.length);
  const indexed = clusters.map((cluster, index) => ({ cluster, index }));
  await pool(indexed, limit, async ({ cluster, index }) => {
    results[index] = await work(cluster);
  });
  return results;
}

/** Keep-alive sockets of a client opened for a diagnosis alone (its GETs run 8 at a time). */
const DIAGNOSE_SOCKETS = 8;

/** A connection, and for a cluster in another account the assumed role it authenticates as. */
export type ClusterConnection = KubeConnection & { identity?: { roleArn: string; assumedRoleArn: string } };

export interface KubernetesStepDeps {
  /**
   * How to reach a cluster; default: EKS DescribeCluster + the default credential chain, or, for
   * an entry with a roleArn, the role assumed in the cluster's account (bounded by the deadline).
   */
  access?: (cluster: ClusterConfig, deadline: Deadline) => Promise<ClusterConnection>;
  /** Options for the apply engine (tests inject clocks, retry timings). */
  apply?: ApplyDeps;
  onProgress?: (cluster: string, done: number, total: number) => void;
  /** Options for the diagnosis (tests: clocks, retry timings); its API defaults to apply.api or a new one. */
  diagnose?: Partial<DiagnoseDeps>;
}

/**
 * Runs `use` with the cluster's API: the injected one, else one opened here (kube/open.ts picks
 * the client) and closed afterwards. The only place the Kubernetes step opens a client.
 */
async function withApi<T>(
  config: Config,
  connection: KubeConnection,
  injected: KubeApi | undefined,
  maxSockets: number,
  deadline: Deadline,
  use: (api: KubeApi) => Promise<T>,
): Promise<T> {
  if (injected) return use(injected);
  const api = await openKubeApi(connection, { client: config.kubernetes.client, maxSockets, deadline });
  try {
    return await use(api);
  } finally {
    await api.close?.()?.catch(() => undefined);
  }
}

/** What a diagnosis reads; `listed`: the namespaces a heal's writes already listed (no second namespace LIST). */
function diagnoseTarget(config: Config, request: Request, listed?: readonly string[]): DiagnoseTarget {
  const k = config.kubernetes;
  return {
    namespaces: request.namespaces ? { mode: "list", names: request.namespaces } : k.namespaces,
    ...(listed !== undefined ? { listed } : {}),
    configuredHosts: config.rotation.registries.map((r) => r.host),
    pullSecretName: k.pullSecretName,
  };
}

/** Why a cluster could not be read at all, and what to do about it (one line), from its Problem. */
export function unreadableReason(error: unknown): string {
  const p = error instanceof KubeApiError ? error.problem : undefined;
  const t = p?.target;
  const what = `${t?.verb ?? "read"} ${t?.resource ?? "the cluster"}${t?.namespace ? ` in namespace "${t.namespace}"` : " cluster-wide"}`;
  switch (p?.kind) {
    case "forbidden":
      return `forbidden (403) to ${what}: ${(error as Error).message}; grant get/list on namespaces, pods, events, secrets and serviceaccounts (infra/k8s/rbac.yaml), or, with namespace-confined RBAC, name the namespaces (--namespace N, or TARGET_NAMESPACES)`;
    case "unauthorized":
      return `unauthorized (401) to ${what}: the cluster rejected the bearer token; ${UNAUTHORIZED_CAUSES}`;
    case "network":
      return networkHint(p);
    default:
      return describeError(error);
  }
}

/** A diagnosis that could not read the cluster: the reason and its Problem. */
function unreadable(error: unknown): NonNullable<ClusterReport["diagnosis"]> {
  return { podsScanned: 0, stuck: [], unreadable: unreadableReason(error), problem: problemOf(error) };
}

/** The deadline's marks on a diagnosis it cut (see diagnoseWith). */
const DIAGNOSIS_SKIPPED = `skipped: ${DEADLINE_REASON}`;
const DIAGNOSIS_CUT = `diagnosis incomplete: ${DEADLINE_REASON}`;
const cutByDeadline = (d: ClusterReport["diagnosis"]): boolean => d?.skipped === "deadline";

/** Diagnoses one cluster; a failure becomes the diagnosis' `unreadable` reason (it never throws). */
async function diagnoseWith(
  config: Config,
  request: Request,
  api: KubeApi,
  deps: KubernetesStepDeps,
  deadline: Deadline,
  listed?: readonly string[],
): Promise<ClusterReport["diagnosis"]> {
  if (deadline.expired()) return { podsScanned: 0, stuck: [], errors: [DIAGNOSIS_SKIPPED], skipped: "deadline" };
  try {
    return await diagnoseCluster(diagnoseTarget(config, request, listed), { ...deps.diagnose, api, deadline });
  } catch (error) {
    if (isDeadlineExceeded(error)) return { podsScanned: 0, stuck: [], errors: [DIAGNOSIS_CUT], skipped: "deadline" };
    return unreadable(error);
  }
}

/**
 * After a heal's writes, a pod whose pull secret looks right is most likely waiting for the
 * kubelet's next retry: say so where this heal just wrote the pull secret.
 */
export function annotateAfterHeal(report: ClusterReport, pullSecretName: string): ClusterReport {
  const refreshed = new Set(report.namespaces.filter((n) => n.outcome === "created" || n.outcome === "updated").map((n) => n.namespace));
  for (const stuck of report.diagnosis?.stuck ?? []) {
    for (const cause of stuck.causes) {
      if (cause.code === "unknown" && refreshed.has(stuck.namespace)) {
        cause.hint = `this heal just wrote ${pullSecretName} in ${stuck.namespace}: if the pod uses it, the kubelet picks it up at its next pull retry (back-off up to 5 min) — diagnose again then; otherwise: ${cause.hint}`;
      }
    }
  }
  return report;
}

/** The diagnose action: read-only, per selected cluster, in parallel (KUBE_CLUSTER_CONCURRENCY at once). */
export function createDiagnoseStep(config: Config, deps: KubernetesStepDeps = {}): DiagnoseStep {
  const access = deps.access ?? defaultAccess;
  return async ({ request, deadline = NO_DEADLINE }) => {
    const clusters = selectClusters(config.kubernetes.clusters, request);
    const reports = await forEachCluster(clusters, config.kubernetes.clusterConcurrency, async (cluster): Promise<ClusterReport> => {
      try {
        const connection = await reach(access, cluster, deadline);
        rememberSecret(connection.token);
        const report: ClusterReport = { cluster: cluster.name, region: cluster.region, ok: true, namespaces: [] };
        const diagnosis = await withApi(config, connection, deps.diagnose?.api ?? deps.apply?.api, DIAGNOSE_SOCKETS, deadline, async (api) => {
          const diagnosed = await diagnoseWith(config, request, api, deps, deadline);
          // The Events on the stuck pods (clusters/pod-actions.ts).
          if (diagnosed) await actOnPods({ config, request, api, report: Object.assign(report, { diagnosis: diagnosed }), deadline });
          return diagnosed;
        }).catch(unreadable);
        if (diagnosis) {
          report.diagnosis = diagnosis;
          if (diagnosis.unreadable !== undefined) {
            report.ok = false;
            report.error = `could not read the cluster: ${diagnosis.unreadable}`;
          } else if (diagnosis.errors && diagnosis.errors.length > 0) {
            report.ok = false;
            report.error = diagnosis.errors.join("; ");
          }
          if (cutByDeadline(diagnosis)) report.skipped = "deadline";
        }
        return explainUnauthorized(report, connection);
      } catch (error) {
        return failedCluster(cluster, error);
      }
    });
    return { mode: "diagnosed", clusters: reports };
  };
}

/**
 * A 401 from a cluster reached through an assumed role: say which identity the cluster saw and
 * what maps it (an access entry for the role ARN; EKS does not accept the session ARN there).
 */
export function explainUnauthorized(report: ClusterReport, connection: ClusterConnection): ClusterReport {
  const id = connection.identity;
  if (id === undefined) return report;
  const problems = [
    ...(report.problems ?? []),
    ...report.namespaces.flatMap((n) => (n.problem ? [n.problem] : [])),
    ...(report.diagnosis?.problem ? [report.diagnosis.problem] : []),
  ];
  if (!problems.some((p) => p.kind === "unauthorized")) return report;
  const hint =
    `the cluster refused the token of ${id.assumedRoleArn} (assumed from ${id.roleArn}): ` +
    `no EKS access entry maps the role ${id.roleArn} (map the role ARN, not the session ARN) to the Kubernetes group ecr-token-rotator — see docs/fleet.md`;
  report.ok = false;
  report.error = report.error ? `${report.error}; ${hint}` : hint;
  return report;
}

/**
 * A cluster's connection, within the deadline: a cluster the deadline finds waiting behind
 * KUBE_CLUSTER_CONCURRENCY is not started at all, and an access that does not settle by the
 * deadline (whatever `access` is) does not hold its slot — the clusters after it are reported
 * `skipped: deadline` and the Report still comes back.
 */
function reach(access: NonNullable<KubernetesStepDeps["access"]>, cluster: ClusterConfig, deadline: Deadline): Promise<ClusterConnection> {
  const what = `cluster ${cluster.name}`;
  deadline.check(what);
  return deadline.race(access(cluster, deadline), `access to ${what}`);
}

/** How a run reaches a cluster unless told otherwise (the doctor reaches it the same way). */
export function defaultAccess(cluster: ClusterConfig, deadline: Deadline): Promise<ClusterConnection> {
  const where = `access to EKS cluster ${cluster.name}`;
  if (cluster.assumeRole !== undefined) {
    const { roleArn, externalId, sessionName } = cluster.assumeRole;
    return deadline
      .race(getAssumedClusterAccess(cluster, { roleArn, externalId, sessionName, region: cluster.region }, { cache: assumedRoleCache(), deadline }), where)
      .then(({ server, caData, token, identity }) => ({ server, caData, token, identity }));
  }
  const deps: ClusterAccessDeps = {
    describe: sdkDescribeCluster(cluster.region, undefined, deadline),
    credentials: createEksCredentialsProvider(cluster.region),
  };
  return deadline.race(getClusterAccess(cluster, deps), where).then(({ server, caData, token }) => ({ server, caData, token }));
}

/** A cluster that could not be worked on: the deadline came first (`skipped`), or it failed. */
function failedCluster(cluster: ClusterConfig, error: unknown): ClusterReport {
  if (isDeadlineExceeded(error)) {
    return {
      cluster: cluster.name,
      region: cluster.region,
      ok: false,
      skipped: "deadline",
      error: `skipped: ${DEADLINE_REASON} (${describeError(error)})`,
      problems: [problemOf(error)],
      namespaces: [],
    };
  }
  return { cluster: cluster.name, region: cluster.region, ok: false, error: describeError(error), problems: [problemOf(error)], namespaces: [] };
}

export function clusterReport(cluster: ClusterConfig, result: ClusterApplyResult): ClusterReport {
  const namespaces = result.namespaces.map((ns): NamespaceReport => {
    let outcome: NamespaceReport["outcome"] = ns.outcome;
    if (result.dryRun && ns.wouldWrite && ns.outcome === "created") outcome = "would-create";
    if (result.dryRun && ns.wouldWrite && ns.outcome === "updated") outcome = "would-update";
    const report: NamespaceReport = { namespace: ns.namespace, outcome };
    if (ns.reason !== undefined) report.reason = ns.reason;
    if (ns.problem !== undefined) report.problem = ns.problem;
    if (ns.serviceAccountsPatched && ns.serviceAccountsPatched.length > 0) report.serviceAccountsPatched = ns.serviceAccountsPatched;
    return report;
  });
  const report: ClusterReport = {
    cluster: cluster.name,
    region: cluster.region,
    ok: result.ok,
    namespaces,
    serviceAccounts: {
      patched: result.serviceAccounts.patched,
      missing: result.serviceAccounts.missing,
      failed: result.serviceAccounts.failed.map((f) => `${f.serviceAccount}: ${f.reason}`),
    },
    requests: result.requests,
    durationMs: result.durationMs,
  };
  if (result.externalSecrets.enabled || result.externalSecrets.resynced.length > 0 || result.externalSecrets.failed.length > 0) {
    report.externalSecrets = {
      resynced: result.externalSecrets.resynced,
      ...(result.externalSecrets.clusterExternalSecrets ? { clusterExternalSecrets: result.externalSecrets.clusterExternalSecrets } : {}),
      failed: result.externalSecrets.failed.map((f) => `${f.externalSecret}: ${f.reason}`),
    };
  }
  const conflicts = result.namespaces.filter((n) => n.outcome === "conflict").length;
  if (conflicts > 0) {
    // A configuration state no retry can change: reported and counted, not a failure.
    result.notes.push(
      `${conflicts} namespace${conflicts > 1 ? "s" : ""} in conflict: a Secret named ${result.pullSecretName} there is not the product's (or has another type); left untouched — this does not fail the run`,
    );
  }
  if (result.notes.length > 0) report.notes = result.notes;
  const failedNamespaces = result.namespaces.filter((n) => n.outcome === "failed").length;
  const skippedByDeadline = result.namespaces.filter((n) => n.outcome === "skipped" && n.problem?.kind === "deadline").length;
  if (result.problems.length > 0) report.problems = [...result.problems];
  const problems = [...result.errors];
  if (failedNamespaces > 0) problems.push(`${failedNamespaces} namespace${failedNamespaces > 1 ? "s" : ""} failed`);
  if (skippedByDeadline > 0) problems.push(`${skippedByDeadline} namespace${skippedByDeadline > 1 ? "s" : ""} skipped: ${DEADLINE_REASON}`);
  if (result.deadlineReached) report.skipped = "deadline";
  if (result.serviceAccounts.failed.length > 0) problems.push(`${result.serviceAccounts.failed.length} ServiceAccount patch(es) failed`);
  if (result.externalSecrets.failed.length > 0) problems.push(`${result.externalSecrets.failed.length} ExternalSecret re-sync(s) failed`);
  if (problems.length > 0) report.error = problems.join("; ");
  report.ok = result.ok && failedNamespaces === 0 && skippedByDeadline === 0;
  return report;
}

export function createKubernetesStep(config: Config, deps: KubernetesStepDeps = {}): KubernetesStep {
  const k = config.kubernetes;
  const access = deps.access ?? defaultAccess;
  return async ({
    request,
    credentials,
    deadline = NO_DEADLINE,
    withdrawn,
  }: {
    request: Request;
    credentials: RegistryCredential[];
    deadline?: Deadline;
    withdrawn?: string[];
  }): Promise<KubernetesReport> => {
    const clusters = selectClusters(k.clusters, request);
    const logins: RegistryLogin[] = credentials.map((c) => ({ host: c.registry.host, username: c.username, password: c.password }));
    const reports = await forEachCluster(clusters, k.clusterConcurrency, async (cluster): Promise<ClusterReport> => {
      const target: ClusterTarget = {
        cluster: cluster.name,
        namespaces: request.namespaces ? { mode: "list", names: request.namespaces } : k.namespaces,
        pullSecretName: k.pullSecretName,
        patchServiceAccounts: k.patchServiceAccounts,
        ...(k.esoResyncSelector !== undefined ? { esoResync: { labelSelector: k.esoResyncSelector } } : {}),
        concurrency: k.concurrency,
        adoptUnmanaged: k.adoptExistingPullSecrets,
        dryRun: request.dryRun,
        ...(withdrawn && withdrawn.length > 0 ? { withdrawHosts: withdrawn } : {}),
      };
      try {
        const connection = await reach(access, cluster, deadline);
        rememberSecret(connection.token);
        const applyDeps: ApplyDeps = { ...deps.apply, deadline };
        if (deps.onProgress) applyDeps.onProgress = (done, total) => deps.onProgress!(cluster.name, done, total);
        return await withApi(config, connection, applyDeps.api, k.concurrency, deadline, async (api) => {
          const applied = await applyToCluster(connection, logins, target, { ...applyDeps, api });
          const report = clusterReport(cluster, applied);
          if (withdrawn && withdrawn.length > 0) {
            (report.notes ??= []).push(
              `${withdrawn.join(", ")} removed from the pull secrets ${request.dryRun ? "(would be) " : ""}instead of left to expire: its token could not be refreshed, so pulls from it go anonymous`,
            );
          }
          // What is still stuck after the heal's writes, and why the heal cannot fix it.
          if (request.action === "heal") {
            report.diagnosis = await diagnoseWith(config, request, deps.diagnose?.api ?? api, deps, deadline, applied.listedNamespaces);
            // The diagnosis is part of the heal's work: one the deadline cut fails the run too.
            if (cutByDeadline(report.diagnosis)) {
              report.ok = false;
              report.skipped = "deadline";
              report.error = [report.error, `diagnosis skipped: ${DEADLINE_REASON}`].filter(Boolean).join("; ");
            }
          }
          annotateAfterHeal(report, k.pullSecretName);
          // The stuck pods' restarts and Events (clusters/pod-actions.ts).
          if (request.action === "heal") await actOnPods({ config, request, api: deps.diagnose?.api ?? api, report, deadline });
          return explainUnauthorized(report, connection);
        });
      } catch (error) {
        return failedCluster(cluster, error);
      }
    });
    return { mode: "applied", clusters: reports };
  };
}
