/**
 * The Kubernetes half of a run (fallback apply, ServiceAccount patch, ESO re-sync), loaded
 * lazily by src/app/app.ts so the schedule-only path never pays for the Kubernetes/EKS code.
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
import { KubeApiError, type KubeApi, type KubeConnection } from "../kube/types";
import { UNAUTHORIZED_CAUSES, unreachableHint } from "../shared/next-step";
import type { Request } from "../request/triggers";

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
   * an entry with a roleArn, the role assumed in the cluster's account.
   */
  access?: (cluster: ClusterConfig) => Promise<ClusterConnection>;
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
  use: (api: KubeApi) => Promise<T>,
): Promise<T> {
  if (injected) return use(injected);
  const api = await openKubeApi(connection, { client: config.kubernetes.client, maxSockets });
  try {
    return await use(api);
  } finally {
    await api.close?.()?.catch(() => undefined);
  }
}

function diagnoseTarget(config: Config, request: Request): DiagnoseTarget {
  const k = config.kubernetes;
  return {
    namespaces: request.namespaces ? { mode: "list", names: request.namespaces } : k.namespaces,
    configuredHosts: config.rotation.registries.map((r) => r.host),
    pullSecretName: k.pullSecretName,
  };
}

/** Why a cluster could not be read at all, and what to do about it (one line). */
export function unreadableReason(error: unknown): string {
  if (error instanceof KubeApiError) {
    const what = `${error.details.verb ?? "read"} ${error.details.resource ?? "the cluster"}${error.details.namespace ? ` in namespace "${error.details.namespace}"` : " cluster-wide"}`;
    if (error.status === 403) {
      return `forbidden (403) to ${what}: ${error.message}; grant get/list on namespaces, pods, events, secrets and serviceaccounts (infra/k8s/rbac.yaml), or, with namespace-confined RBAC, name the namespaces (--namespace N, or TARGET_NAMESPACES)`;
    }
    if (error.status === 401) return `unauthorized (401) to ${what}: the cluster rejected the bearer token; ${UNAUTHORIZED_CAUSES}`;
    if (error.status === 0) return unreachableHint(error.details.url, error.details.networkCode);
  }
  return describeError(error);
}

/** Diagnoses one cluster; a failure becomes the diagnosis' `unreadable` reason (it never throws). */
async function diagnoseWith(config: Config, request: Request, api: KubeApi, deps: KubernetesStepDeps): Promise<ClusterReport["diagnosis"]> {
  try {
    return await diagnoseCluster(diagnoseTarget(config, request), { ...deps.diagnose, api });
  } catch (error) {
    return { podsScanned: 0, stuck: [], unreadable: unreadableReason(error) };
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
  return async ({ request }) => {
    const clusters = selectClusters(config.kubernetes.clusters, request);
    const reports = await forEachCluster(clusters, config.kubernetes.clusterConcurrency, async (cluster): Promise<ClusterReport> => {
      try {
        const connection = await access(cluster);
        rememberSecret(connection.token);
        const diagnosis = await withApi(config, connection, deps.diagnose?.api ?? deps.apply?.api, DIAGNOSE_SOCKETS, (api) =>
          diagnoseWith(config, request, api, deps),
        ).catch((error: unknown): ClusterReport["diagnosis"] => ({ podsScanned: 0, stuck: [], unreadable: unreadableReason(error) }));
        const report: ClusterReport = { cluster: cluster.name, region: cluster.region, ok: true, namespaces: [] };
        if (diagnosis) {
          report.diagnosis = diagnosis;
          if (diagnosis.unreadable !== undefined) {
            report.ok = false;
            report.error = `could not read the cluster: ${diagnosis.unreadable}`;
          } else if (diagnosis.errors && diagnosis.errors.length > 0) {
            report.ok = false;
            report.error = diagnosis.errors.join("; ");
          }
        }
        return explainUnauthorized(report, connection);
      } catch (error) {
        return { cluster: cluster.name, region: cluster.region, ok: false, error: describeError(error), namespaces: [] };
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
  const texts = [report.error ?? "", ...report.namespaces.map((n) => n.reason ?? ""), ...(report.diagnosis?.errors ?? [])];
  if (!texts.some((t) => /\b401\b|unauthorized/i.test(t))) return report;
  const hint =
    `the cluster refused the token of ${id.assumedRoleArn} (assumed from ${id.roleArn}): ` +
    `no EKS access entry maps the role ${id.roleArn} (map the role ARN, not the session ARN) to the Kubernetes group ecr-token-rotator — see docs/fleet.md`;
  report.ok = false;
  report.error = report.error ? `${report.error}; ${hint}` : hint;
  return report;
}

function defaultAccess(cluster: ClusterConfig): Promise<ClusterConnection> {
  if (cluster.assumeRole !== undefined) {
    const { roleArn, externalId, sessionName } = cluster.assumeRole;
    return getAssumedClusterAccess(cluster, { roleArn, externalId, sessionName, region: cluster.region }, { cache: assumedRoleCache() }).then(
      ({ server, caData, token, identity }) => ({ server, caData, token, identity }),
    );
  }
  const deps: ClusterAccessDeps = { describe: sdkDescribeCluster(cluster.region), credentials: createEksCredentialsProvider(cluster.region) };
  return getClusterAccess(cluster, deps).then(({ server, caData, token }) => ({ server, caData, token }));
}

export function clusterReport(cluster: ClusterConfig, result: ClusterApplyResult): ClusterReport {
  const namespaces = result.namespaces.map((ns): NamespaceReport => {
    let outcome: NamespaceReport["outcome"] = ns.outcome;
    if (result.dryRun && ns.wouldWrite && ns.outcome === "created") outcome = "would-create";
    if (result.dryRun && ns.wouldWrite && ns.outcome === "updated") outcome = "would-update";
    const report: NamespaceReport = { namespace: ns.namespace, outcome };
    if (ns.reason !== undefined) report.reason = ns.reason;
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
  if (result.externalSecrets.enabled) {
    report.externalSecrets = {
      resynced: result.externalSecrets.resynced,
      failed: result.externalSecrets.failed.map((f) => `${f.externalSecret}: ${f.reason}`),
    };
  }
  if (result.notes.length > 0) report.notes = result.notes;
  const failedNamespaces = result.namespaces.filter((n) => n.outcome === "failed" || n.outcome === "conflict").length;
  const problems = [...result.errors];
  if (failedNamespaces > 0) problems.push(`${failedNamespaces} namespace${failedNamespaces > 1 ? "s" : ""} failed or in conflict`);
  if (result.serviceAccounts.failed.length > 0) problems.push(`${result.serviceAccounts.failed.length} ServiceAccount patch(es) failed`);
  if (result.externalSecrets.failed.length > 0) problems.push(`${result.externalSecrets.failed.length} ExternalSecret re-sync(s) failed`);
  if (problems.length > 0) report.error = problems.join("; ");
  report.ok = result.ok && failedNamespaces === 0;
  return report;
}

export function createKubernetesStep(config: Config, deps: KubernetesStepDeps = {}): KubernetesStep {
  const k = config.kubernetes;
  const access = deps.access ?? defaultAccess;
  return async ({
    request,
    credentials,
    withdrawn,
  }: {
    request: Request;
    credentials: RegistryCredential[];
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
        const connection = await access(cluster);
        rememberSecret(connection.token);
        const applyDeps: ApplyDeps = { ...deps.apply };
        if (deps.onProgress) applyDeps.onProgress = (done, total) => deps.onProgress!(cluster.name, done, total);
        return await withApi(config, connection, applyDeps.api, k.concurrency, async (api) => {
          const report = clusterReport(cluster, await applyToCluster(connection, logins, target, { ...applyDeps, api }));
          if (withdrawn && withdrawn.length > 0) {
            (report.notes ??= []).push(
              `${withdrawn.join(", ")} removed from the pull secrets ${request.dryRun ? "(would be) " : ""}instead of left to expire: its token could not be refreshed, so pulls from it go anonymous`,
            );
          }
          // What is still stuck after the heal's writes, and why the heal cannot fix it.
          if (request.action === "heal") report.diagnosis = await diagnoseWith(config, request, deps.diagnose?.api ?? api, deps);
          return explainUnauthorized(annotateAfterHeal(report, k.pullSecretName), connection);
        });
      } catch (error) {
        return { cluster: cluster.name, region: cluster.region, ok: false, error: describeError(error), namespaces: [] };
      }
    });
    return { mode: "applied", clusters: reports };
  };
}
