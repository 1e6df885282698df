/**
 * The Kubernetes half of a run (fallback apply, ServiceAccount patch, ESO re-sync, the diagnosis
 * after a heal, and the diagnose action), loaded lazily by src/app/app.ts so the schedule-only
 * path never pays for the Kubernetes/EKS code.
 *
 * Per selected cluster: one cluster session (fleet/session.ts: the connection — DescribeCluster
 * or the configured override, an EKS bearer token cached ≤ 14 min across warm invocations —, one
 * API client, the retry policy, paging and the deadline), then the apply engine (kube/) and the
 * diagnosis (diagnose/) in it. Clusters run in parallel, at most KUBE_CLUSTER_CONCURRENCY at once
 * (fleet/each.ts); one failing never stops the others.
 */
import type { ClusterConfig, Config } from "../config/config";
import type { RegistryLogin } from "../formats/dockerconfig";
import type { RegistryCredential } from "../rotation/ecr";
import { selectClusters, unknownAlarmClusters } from "../request/cluster-selection";
import { requestedNamespaces } from "../request/scope";
import { describeError } from "../shared/errors";
import { applyToCluster, type ApplyDeps, type ClusterApplyResult, type ClusterTarget } from "../kube/apply";
import type { ClusterReport, KubernetesReport, NamespaceReport } from "../report/report";
import type { DiagnoseStep, KubernetesStep } from "../run/run";
import { diagnoseCluster, type DiagnoseDeps, type DiagnoseTarget } from "../diagnose/collect";
import { actOnPods } from "./pod-actions";
import { KubeApiError } from "../kube/types";
import { UNAUTHORIZED_CAUSES } from "../shared/next-step";
import { networkHint } from "../shared/problem-text";
import { problemOf } from "../kube/retry";
import type { Request } from "../request/triggers";
import { cutReasonOf, DEADLINE_REASON, isDeadlineExceeded, NO_DEADLINE, type Deadline } from "../shared/deadline";
import { connectCluster, defaultAccess, type ClusterAccess, type ClusterConnection } from "../fleet/access";
import { forEachCluster } from "../fleet/each";
import { withClusterSession, withSession, type SessionOptions, type SessionReads } from "../fleet/session";

/** Keep-alive sockets of a client opened for a diagnosis alone (its GETs run 8 at a time). */
const DIAGNOSE_SOCKETS = 8;

export interface KubernetesStepDeps {
  /**
   * How to reach a cluster; default: EKS DescribeCluster + the default credential chain, or, for
   * an entry with a roleArn, the role assumed in the cluster's account (fleet/access.ts).
   */
  access?: ClusterAccess;
  /** Options for the apply engine and a heal's session (tests inject an API, clocks, retry timings). */
  apply?: ApplyDeps;
  onProgress?: (cluster: string, done: number, total: number) => void;
  /**
   * Options for the diagnosis (tests: clocks, limits). A diagnose run's session takes its API
   * (default: apply.api, else one opened) and retry timings from here; a heal's diagnosis reads
   * through the heal's session.
   */
  diagnose?: Partial<DiagnoseDeps>;
}

/** The session a heal opens for a cluster: its API with KUBE_CONCURRENCY sockets, apply's retry timings. */
function healSession(config: Config, deps: KubernetesStepDeps, deadline: Deadline): SessionOptions {
  return { ...deps.apply, client: config.kubernetes.client, maxSockets: config.kubernetes.concurrency, deadline };
}

/** The session a diagnose run opens for a cluster (8 sockets: its GETs run 8 at a time). */
function diagnoseSession(config: Config, deps: KubernetesStepDeps, deadline: Deadline): SessionOptions {
  const d = deps.diagnose ?? {};
  return {
    client: config.kubernetes.client,
    maxSockets: DIAGNOSE_SOCKETS,
    api: d.api ?? deps.apply?.api,
    retry: d.retry,
    sleep: d.sleep,
    pageSize: d.pageSize,
    deadline,
  };
}

/** What a diagnosis reads; `listed`: the namespaces a heal's writes already listed (no second namespace LIST). */
function diagnoseTarget(config: Config, request: Request, listed?: readonly string[]): DiagnoseTarget {
  const k = config.kubernetes;
  return {
    namespaces: requestedNamespaces(k.namespaces, request),
    ...(request.namespaces ? { scope: k.namespaces } : {}),
    ...(listed !== undefined ? { listed } : {}),
    configuredHosts: config.rotation.registries.map((r) => r.host),
    pullSecretName: k.pullSecretName,
    patchServiceAccounts: k.patchServiceAccounts,
  };
}

/**
 * Marks the rows of namespaces the request named and the cluster's namespace list lacks
 * (`notFound`: re-running them cannot help). True when there is one.
 */
function markNotFound(report: ClusterReport, request: Request, listed: readonly string[] | undefined): boolean {
  if (request.namespaces === undefined || listed === undefined) return false;
  let any = false;
  for (const row of report.namespaces) {
    if (row.outcome !== "failed" || listed.includes(row.namespace) || !request.namespaces.includes(row.namespace)) continue;
    row.notFound = true;
    any = true;
  }
  return any;
}

/** Why a cluster could not be read at all, and what to do about it (one line), from its Problem. */

export function unreadableReason(error: unknown): string {
  const p = error instanceof KubeApiError ? error.problem : undefined;
  const t = p?.target;
  const what = `${t?.verb ?? "read"} ${t?.resource ?? "the cluster"}${t?.namespace ? ` in namespace "${t.namespace}"` : " cluster-wide"}`;
  switch (p?.kind) {
    case "forbidden":
      return `forbidden (403) to ${what}: ${(error as Error).message}; grant get/list on namespaces, pods, events, secrets and serviceaccounts (infra/k8s/components/fallback/rbac.yaml), or, with namespace-confined RBAC, name the namespaces (--namespace N, or TARGET_NAMESPACES)`;
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

/** Diagnoses one cluster in `session`; a failure becomes the diagnosis' `unreadable` reason (it never throws). */
async function diagnoseIn(session: SessionReads, target: DiagnoseTarget, options: Partial<DiagnoseDeps> | undefined): Promise<ClusterReport["diagnosis"]> {
  if (session.deadline.expired()) return { podsScanned: 0, stuck: [], errors: [DIAGNOSIS_SKIPPED], skipped: "deadline" };
  try {
    return await diagnoseCluster(target, { ...options, session });
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
        const connection = await connectCluster(access, cluster, deadline);
        const acted: Pick<ClusterReport, "events"> = {};
        const diagnosis = await withSession(connection, diagnoseSession(config, deps, deadline), async (session) => {
          const diagnosed = await diagnoseIn(session, diagnoseTarget(config, request), deps.diagnose);
          // The Events on the stuck pods (clusters/pod-actions.ts).
          const scratch: ClusterReport = { cluster: cluster.name, region: cluster.region, ok: true, namespaces: [], diagnosis: diagnosed };
          await actOnPods({ config, request, api: session.api, report: scratch, deadline });
          if (scratch.events !== undefined) acted.events = scratch.events;
          return diagnosed;
        }).catch(unreadable);
        return explainUnauthorized({ ...diagnosedReport(cluster, diagnosis), ...acted }, connection);
      } catch (error) {
        return failedCluster(cluster, error);
      }
    });
    return { mode: "diagnosed", clusters: reports };
  };
}

/** A diagnose run's report of one cluster: unreadable, or cut by the deadline, fails it. */
function diagnosedReport(cluster: ClusterConfig, diagnosis: ClusterReport["diagnosis"]): ClusterReport {
  const report: ClusterReport = { cluster: cluster.name, region: cluster.region, ok: true, namespaces: [] };
  if (!diagnosis) return report;
  report.diagnosis = diagnosis;
  if (diagnosis.unreadable !== undefined) {
    report.ok = false;
    report.error = `could not read the cluster: ${diagnosis.unreadable}`;
  } else if (diagnosis.errors && diagnosis.errors.length > 0) {
    report.ok = false;
    report.error = diagnosis.errors.join("; ");
  }
  if (cutByDeadline(diagnosis)) report.skipped = "deadline";
  return report;
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

/** A cluster that could not be worked on: the deadline came first (`skipped`), or it failed. */
function failedCluster(cluster: ClusterConfig, error: unknown): ClusterReport {
  if (isDeadlineExceeded(error)) {
    return {
      cluster: cluster.name,
      region: cluster.region,
      ok: false,
      skipped: "deadline",
      error: `skipped: ${cutReasonOf(error)} (${describeError(error)})`,
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
    ...(result.outOfScope ? { outOfScope: result.outOfScope } : {}),
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

/** What a heal step applies, the same for every cluster of one run. */
interface HealPlan {
  config: Config;
  deps: KubernetesStepDeps;
  request: Request;
  logins: RegistryLogin[];
  deadline: Deadline;
  withdrawn: string[] | undefined;
}

export function createKubernetesStep(config: Config, deps: KubernetesStepDeps = {}): KubernetesStep {
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
    const clusters = selectClusters(config.kubernetes.clusters, request);
    const logins: RegistryLogin[] = credentials.map((c) => ({ host: c.registry.host, username: c.username, password: c.password }));
    const plan: HealPlan = { config, deps, request, logins, deadline, withdrawn };
    const reports = await forEachCluster(clusters, config.kubernetes.clusterConcurrency, (cluster) =>
      withClusterSession(cluster, access, healSession(config, deps, deadline), (session) => healCluster(plan, cluster, session)).catch((error: unknown) =>
        failedCluster(cluster, error),
      ),
    );
    const unknownClusters = unknownAlarmClusters(config.kubernetes.clusters, request);
    return { mode: "applied", clusters: reports, ...(unknownClusters.length > 0 ? { unknownClusters } : {}) };
  };
}

/** What a heal applies to one cluster. */
function healTarget(plan: HealPlan, cluster: ClusterConfig): ClusterTarget {
  const { request, withdrawn } = plan;
  const k = plan.config.kubernetes;
  return {
    cluster: cluster.name,
    namespaces: requestedNamespaces(k.namespaces, request),
    pullSecretName: k.pullSecretName,
    patchServiceAccounts: k.patchServiceAccounts,
    ...(k.esoResyncSelector !== undefined ? { esoResync: { labelSelector: k.esoResyncSelector } } : {}),
    concurrency: k.concurrency,
    adoptUnmanaged: k.adoptExistingPullSecrets,
    dryRun: request.dryRun,
    ...(withdrawn && withdrawn.length > 0 ? { withdrawHosts: withdrawn } : {}),
  };
}

/** One cluster's heal in its session: the writes, then (action heal) what is still stuck and why. */
async function healCluster(plan: HealPlan, cluster: ClusterConfig, session: SessionReads & { connection: ClusterConnection }): Promise<ClusterReport> {
  const { config, deps, request, withdrawn } = plan;
  const applyDeps: ApplyDeps = { ...deps.apply, deadline: plan.deadline, session };
  if (deps.onProgress) applyDeps.onProgress = (done, total) => deps.onProgress!(cluster.name, done, total);
  const applied = await applyToCluster(session.connection, plan.logins, healTarget(plan, cluster), applyDeps);
  const report = clusterReport(cluster, applied);
  if (withdrawn && withdrawn.length > 0) {
    (report.notes ??= []).push(
      `${withdrawn.join(", ")} removed from the pull secrets ${request.dryRun ? "(would be) " : ""}instead of left to expire: its token could not be refreshed, so pulls from it go anonymous`,
    );
  }
  // What is still stuck after the heal's writes, and why the heal cannot fix it.
  if (request.action === "heal") {
    // A named namespace the cluster lacks: the diagnosis lists the namespaces itself, to name its close matches.
    const missing = markNotFound(report, request, applied.listedNamespaces);
    report.diagnosis = await diagnoseIn(session, diagnoseTarget(config, request, missing ? undefined : applied.listedNamespaces), deps.diagnose);
    // The diagnosis is part of the heal's work: one the deadline cut fails the run too.
    if (cutByDeadline(report.diagnosis)) {
      report.ok = false;
      report.skipped = "deadline";
      report.error = [report.error, `diagnosis skipped: ${DEADLINE_REASON}`].filter(Boolean).join("; ");
    }
  }
  annotateAfterHeal(report, config.kubernetes.pullSecretName);
  // The stuck pods' restarts and Events (clusters/pod-actions.ts).
  if (request.action === "heal") await actOnPods({ config, request, api: session.api, report, deadline: session.deadline });
  return explainUnauthorized(report, session.connection);
}
