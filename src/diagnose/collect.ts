/**
 * Reads what a diagnosis needs from one cluster, read-only, with a bounded number of requests:
 * one paginated LIST of namespaces (none after a heal, which listed them), one of pods (cluster-wide), one of `Failed` pod Events, then
 * one GET per distinct referenced Secret of the stuck pods, one LIST of ServiceAccounts per
 * namespace where a stuck pod has no imagePullSecrets, and one cluster-wide LIST by field
 * selector per distinct missing Secret name (where does a Secret of that name exist?).
 * Each Secret is reduced on arrival (hosts, user names, embedded ECR expiry): no password,
 * `auth` or docker config survives this module. RBAC: get/list on pods, events, secrets,
 * serviceaccounts, namespaces — nothing else.
 */
import { readsOf } from "../fleet/session";
import { counted, forEachListed, reducedNamespace } from "../kube/paging";
import { NamespacesOutOfScopeError, selectNamespaces, withinScope } from "../kube/namespaces";
import { didYouMean } from "../formats/close-match";
import type { KubeNamespace, KubePod } from "../kube/types";
import { causeFromKubelet, classifyStuckContainer, type ReducedSecret } from "./classify";
import { confinedNamespaces, containerKey, listClusterOrNamespaces, MAX_STUCK, type DiagnoseContext, type DiagnoseDeps, type DiagnoseTarget } from "./context";
import { pullErrorEvents } from "./events";
import { quoteKubeletMessage } from "./message";
import { stuckContainersOf, type Stuck } from "./reduce";
import { readReferences, secretsElsewhere, type References } from "./references";
import type { CauseCode, CauseSummary, ClusterDiagnosis, StuckContainerReport } from "../report/report";

export type { DiagnoseDeps, DiagnoseTarget } from "./context";
export { reduceSecret, STUCK_REASONS, stuckContainersOf } from "./reduce";

/** Finds every container stuck pulling its image in the target namespaces, and says why. */
export async function diagnoseCluster(target: DiagnoseTarget, deps: DiagnoseDeps): Promise<ClusterDiagnosis> {
  const started = Date.now();
  const session = deps.session ?? (deps.api ? readsOf(deps.api, deps) : undefined);
  if (session === undefined) throw new Error("diagnoseCluster: neither a session nor an API to read the cluster with");
  const counter = { n: 0 };
  const ctx: DiagnoseContext = {
    ...session,
    api: counted(session.api, counter),
    target,
    deps,
    now: (deps.now ?? (() => new Date()))(),
    diagnosis: { podsScanned: 0, stuck: [], errors: [] },
  };
  const inScope = await namespacesInScope(ctx);
  const stuck = await listStuckContainers(ctx, inScope);
  if (stuck.length > 0) {
    stuck.sort((a, b) => `${a.namespace}/${a.pod}/${a.container}`.localeCompare(`${b.namespace}/${b.pod}/${b.container}`));
    const errorsByContainer = await pullErrorEvents(ctx, stuck);
    const refs = await readReferences(ctx, stuck, errorsByContainer);
    const elsewhere = await secretsElsewhere(ctx, refs);
    classifyAll(ctx, stuck, errorsByContainer, refs, elsewhere);
  }
  const diagnosis: ClusterDiagnosis = ctx.diagnosis;
  if (ctx.confined)
    (diagnosis.notes ??= []).unshift(
      `cluster-wide lists are forbidden (namespace-confined RBAC): read the namespaces ${[...inScope].sort().join(", ")} one by one`,
    );
  diagnosis.requests = counter.n;
  diagnosis.durationMs = Date.now() - started;
  if (diagnosis.errors!.length === 0) delete diagnosis.errors;
  return diagnosis;
}

/** Namespaces in scope: the selected ones and the skipped ones (a skipped namespace's pods are still diagnosed). */
async function namespacesInScope(ctx: DiagnoseContext): Promise<Set<string>> {
  if (ctx.target.listed !== undefined) return new Set(ctx.target.listed);
  const namespaces: KubeNamespace[] = [];
  const nsTarget = ctx.target.namespaces;
  try {
    await forEachListed(
      (o, onItem) => ctx.api.listNamespaces(o, onItem),
      nsTarget.mode === "selector" ? { labelSelector: nsTarget.labelSelector } : {},
      (n) => void namespaces.push(n),
      ctx.paging,
      reducedNamespace,
    );
  } catch (error) {
    const names = confinedNamespaces(ctx, error);
    if (names === undefined) throw error;
    // Without the namespaces' labels a request's names cannot be checked against NAMESPACE_SELECTOR.
    if (nsTarget.mode === "list" && nsTarget.within)
      throw new NamespacesOutOfScopeError(names, `${withinScope(nsTarget.within)}; cannot list namespaces to check their labels`);
    // Namespace-confined RBAC: the listed names are taken as they are (a missing one reads empty).
    ctx.confined = true;
    return new Set(names);
  }
  const selection = selectNamespaces(nsTarget, namespaces);
  // A request's names outside NAMESPACE_SELECTOR are refused, not diagnosed.
  if (selection.outside.length > 0 && nsTarget.mode === "list" && nsTarget.within)
    throw new NamespacesOutOfScopeError(selection.outside, withinScope(nsTarget.within));
  if (selection.missing.length > 0) {
    // A named namespace the cluster does not have: never an all-clear for it.
    const scope = ctx.target.scope ? selectNamespaces(ctx.target.scope, namespaces).selected : [];
    for (const name of selection.missing) ctx.diagnosis.errors.push(`namespace ${name} not found${didYouMean(name, scope)}`);
  }
  return new Set([...selection.selected, ...selection.skipped.map((s) => s.namespace)]);
}

/** Every stuck container (pods are reduced on arrival; finished pods are filtered by the server). */
async function listStuckContainers(ctx: DiagnoseContext, inScope: ReadonlySet<string>): Promise<Stuck[]> {
  const stuck: Stuck[] = [];
  await listClusterOrNamespaces(
    ctx,
    {
      namespaces: inScope,
      clusterWide: (o, onItem) => ctx.api.listPods(o, onItem),
      namespaced: (namespace, o, onItem) => ctx.api.listNamespacedPods(namespace, o, onItem),
      options: { fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" },
      // A pod is reduced on arrival to its stuck containers (most pods: none).
      reduce: (pod: KubePod) => (inScope.has(pod.metadata.namespace ?? "") ? stuckContainersOf(pod) : undefined),
    },
    (stuckOfPod) => {
      ctx.diagnosis.podsScanned++;
      stuck.push(...stuckOfPod);
    },
  );
  return stuck;
}

/** Classifies every stuck container: all are counted by cause, the first `maxStuck` are listed. */
function classifyAll(ctx: DiagnoseContext, stuck: readonly Stuck[], errors: Map<string, string>, refs: References, elsewhere: Record<string, string[]>): void {
  const maxStuck = ctx.deps.maxStuck ?? MAX_STUCK;
  const summary = new Map<CauseCode, { containers: number; namespaces: Set<string> }>();
  let truncated = 0;
  for (const s of stuck) {
    const row = stuckRow(ctx, s, errors.get(containerKey(s.namespace, s.pod, s.container)), refs, elsewhere);
    for (const code of new Set(row.causes.map((c) => c.code))) {
      const entry = summary.get(code) ?? { containers: 0, namespaces: new Set<string>() };
      entry.containers++;
      entry.namespaces.add(s.namespace);
      summary.set(code, entry);
    }
    if (ctx.diagnosis.stuck.length < maxStuck) ctx.diagnosis.stuck.push(row);
    else truncated++;
  }
  ctx.diagnosis.summary = [...summary.entries()]
    .map(([code, e]): CauseSummary => ({ code, containers: e.containers, namespaces: [...e.namespaces].sort() }))
    .sort((a, b) => b.containers - a.containers || a.code.localeCompare(b.code));
  if (truncated > 0) ctx.diagnosis.truncated = truncated;
}

/** One report row: the container and its causes (an unreadable Secret is the cause when there is one). */
function stuckRow(ctx: DiagnoseContext, s: Stuck, eventError: string | undefined, refs: References, elsewhere: Record<string, string[]>): StuckContainerReport {
  const reduced = s.pullSecrets.map((n) => refs.secrets.get(`${s.namespace}/${n}`));
  const unreadable = reduced.filter((r): r is { error: string; hint?: string } => r !== undefined && "error" in r);
  const detail = s.detail ?? eventError;
  const row: StuckContainerReport = { namespace: s.namespace, pod: s.pod, container: s.container, image: s.image, reason: s.reason, causes: [] };
  if (s.uid) row.podUid = s.uid;
  if (s.controller) row.controller = s.controller;
  if (s.message) row.message = quoteKubeletMessage(s.message);
  if (detail) row.detail = quoteKubeletMessage(detail);
  const input = {
    namespace: s.namespace,
    pod: s.pod,
    container: s.container,
    image: s.image,
    reason: s.reason,
    ...(s.message ? { message: s.message } : {}),
    ...(detail ? { detail } : {}),
    configuredHosts: ctx.target.configuredHosts,
    pullSecretName: ctx.target.pullSecretName,
    ...(ctx.target.patchServiceAccounts ? { patchServiceAccounts: ctx.target.patchServiceAccounts } : {}),
    ...(s.owner ? { owner: s.owner } : {}),
    now: ctx.now,
  };
  if (unreadable.length > 0) {
    // A pull error that names its cause needs no Secret: it wins over an unreadable one.
    const readable = reduced.filter((r): r is ReducedSecret => r !== undefined && !("error" in r));
    const fromKubelet = causeFromKubelet({ ...input, podPullSecrets: s.pullSecrets, secrets: readable });
    row.causes = fromKubelet
      ? [fromKubelet]
      : [
          {
            code: "unknown",
            message: unreadable.map((u) => u.error).join("; "),
            hint: unreadable.find((u) => u.hint)?.hint ?? "grant get on secrets (infra/k8s/components/fallback/rbac.yaml) and diagnose again",
          },
        ];
    return row;
  }
  const sa = s.serviceAccountName || "default";
  const saNamespace = refs.saNamespaces.get(s.namespace);
  const saPulls = refs.serviceAccounts.get(`${s.namespace}/${sa}`);
  row.causes = classifyStuckContainer({
    ...input,
    ...(s.serviceAccountName ? { serviceAccountName: s.serviceAccountName } : {}),
    podPullSecrets: s.pullSecrets,
    ...(saPulls !== undefined ? { serviceAccountPullSecrets: saPulls } : {}),
    ...(saNamespace && !("error" in saNamespace) ? { namespaceServiceAccounts: saNamespace } : {}),
    secrets: reduced as ReducedSecret[],
    secretsElsewhere: elsewhere,
  });
  return row;
}
