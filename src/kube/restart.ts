/**
 * The optional restart of stuck pods after a heal (RESTART_STUCK_PODS): which pods the heal's
 * fix cannot reach by itself, and their eviction.
 *
 * Two cases, both read from the diagnosis made after the heal's writes:
 *   - `back-off`: the pull secret of the pod's namespace was just written (or re-synced) and
 *     now looks right, but the kubelet retries the pull only when its back-off expires (up to
 *     five minutes);
 *   - `admission`: the pod copied imagePullSecrets from its ServiceAccount at admission, before
 *     the ServiceAccount had them — only a new pod gets them (the default-ServiceAccount trap).
 * Only pods owned by a controller (ReplicaSet, StatefulSet, DaemonSet, Job) are evicted: it
 * replaces them. Only when every stuck container of the pod is one of those cases (a pod also
 * stuck for a reason the restart cannot change is left alone). At most `max` per cluster and run.
 *
 * Through the Eviction API (policy/v1): the API server applies the PodDisruptionBudgets to a
 * running pod (429 when one refuses: reported `refused`, not retried) and none to a pod that
 * never started (Pending). The eviction names the pod's UID, so a replacement of the same name
 * is never evicted in its place. Decisions are pure; `restartPods` makes the requests.
 */
import { pool } from "./paging";
import { KubeApiError, type KubeApi } from "./types";
import { describeFailure } from "./failure";
import type { StuckContainerReport } from "../report/diagnosis-text";
import type { PodRestart, PodRestartsReport, RestartCase } from "../report/pod-actions";

export type { PodRestart, PodRestartsReport, RestartCase, RestartOutcome } from "../report/pod-actions";

/** Controllers that replace an evicted pod. */
export const RESTARTABLE_CONTROLLERS: readonly string[] = ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"];
/** Evictions in flight at once. */
const EVICT_CONCURRENCY = 8;

/** What the decision needs besides the diagnosis. */
export interface RestartPolicy {
  enabled: boolean;
  dryRun: boolean;
  max: number;
  /** Namespaces whose pull secret this heal created, updated or re-synced. */
  refreshed: ReadonlySet<string>;
}

const WHY: Record<RestartCase, string> = {
  "back-off":
    "its pull secret was just refreshed and now looks right, but the kubelet retries the pull only when its back-off expires (up to 5 min): a new pod pulls now",
  admission:
    "it copied imagePullSecrets from its ServiceAccount at admission, before the ServiceAccount had the pull secret: only a new pod gets it (updating Secrets and ServiceAccounts cannot fix this pod)",
};

/**
 * Credential causes the product's write fixes: what a dry run, whose writes did not happen,
 * counts as resolved in a namespace it would refresh.
 */
const FIXED_BY_THE_WRITE: ReadonlySet<string> = new Set([
  "unknown",
  "registry-refused-credential",
  "token-expired",
  "pull-secret-not-found",
  "registry-host-mismatch",
  "wrong-region",
  "invalid-pull-secret",
]);

/** Which case a stuck container is, or undefined when a restart would not fix it (`dryRun`: the writes are assumed made). */
export function restartCase(row: StuckContainerReport, refreshed: ReadonlySet<string>, dryRun = false): RestartCase | undefined {
  if (row.causes.length === 0) return undefined;
  if (row.causes.every((c) => c.recreate === true)) return "admission";
  // After the write the pull secret looks right: the kubelet's last error is from before it
  // (no message, or the registry's 401 for the old password, which reads "refused the credential").
  const resolved = (code: string) => code === "unknown" || code === "registry-refused-credential" || (dryRun && FIXED_BY_THE_WRITE.has(code));
  if (row.causes.every((c) => resolved(c.code)) && refreshed.has(row.namespace)) return "back-off";
  return undefined;
}

/** The pods a heal should restart (or, with restarts off, that need one), one row per pod, sorted. */
export function decideRestarts(rows: readonly StuckContainerReport[], policy: RestartPolicy): PodRestart[] {
  const byPod = new Map<string, StuckContainerReport[]>();
  for (const row of rows) {
    const key = `${row.namespace}/${row.pod}`;
    byPod.set(key, [...(byPod.get(key) ?? []), row]);
  }
  const out: PodRestart[] = [];
  let planned = 0;
  for (const key of [...byPod.keys()].sort()) {
    const containers = byPod.get(key)!;
    const cases = containers.map((c) => restartCase(c, policy.refreshed, policy.dryRun));
    if (cases.some((c) => c === undefined)) continue;
    const which: RestartCase = cases.includes("admission") ? "admission" : "back-off";
    const first = containers[0]!;
    const owner = first.controller;
    const row: PodRestart = {
      namespace: first.namespace,
      pod: first.pod,
      ...(owner ? { controller: `${owner.kind}/${owner.name}` } : {}),
      case: which,
      outcome: "needs-restart",
      reason: WHY[which],
    };
    if (!owner || !RESTARTABLE_CONTROLLERS.includes(owner.kind)) {
      row.outcome = "not-owned";
      row.reason = `${WHY[which]}; not restarted: ${owner ? `its controller is a ${owner.kind}` : "no controller owns it"}, so nothing would replace it — recreate it by hand`;
    } else if (policy.enabled) {
      row.outcome = planned < policy.max ? (policy.dryRun ? "would-restart" : "restarted") : "over-limit";
      if (row.outcome === "over-limit") row.reason = `${WHY[which]}; not restarted this run: RESTART_MAX_PODS=${policy.max} reached`;
      else planned++;
    }
    out.push(row);
  }
  return out;
}

/** What an eviction's answer means: restarted (2xx), refused (429: a PodDisruptionBudget), gone (404, or 409: replaced), failed. */
export function evictionOutcome(error: unknown, namespace?: string): { outcome: "restarted" | "refused" | "gone" | "failed"; detail?: string } {
  if (error === undefined) return { outcome: "restarted" };
  const kind = error instanceof KubeApiError ? error.problem.kind : undefined;
  if (kind === "throttled")
    return { outcome: "refused", detail: `a PodDisruptionBudget refused the eviction (429: ${(error as Error).message || "TooManyRequests"}); left running` };
  if (kind === "not-found" || kind === "conflict") return { outcome: "gone", detail: "the pod was deleted or replaced meanwhile" };
  if (kind === "forbidden")
    return {
      outcome: "failed",
      detail: `${describeFailure(error, "create", "pods/eviction", namespace, [])}; grant it with infra/k8s/pod-restart-rbac.yaml (a RoleBinding per namespace)`,
    };
  return { outcome: "failed", detail: describeFailure(error, "create", "pods/eviction", namespace, []) };
}

/**
 * Evicts the rows marked `restarted` (one request each, never retried: a refusal is an answer),
 * and sets each row's outcome from the answer. `uids`: `namespace/pod` → the UID the diagnosis read.
 */
export async function restartPods(api: KubeApi, rows: PodRestart[], uids: ReadonlyMap<string, string>): Promise<number> {
  const todo = rows.filter((r) => r.outcome === "restarted");
  await pool(todo, EVICT_CONCURRENCY, async (row) => {
    let error: unknown;
    try {
      await api.evictPod(row.namespace, row.pod, uids.get(`${row.namespace}/${row.pod}`));
    } catch (e) {
      error = e;
    }
    const answer = evictionOutcome(error, row.namespace);
    row.outcome = answer.outcome;
    if (answer.detail !== undefined) row.reason = `${row.reason}; ${answer.detail}`;
    if (error instanceof KubeApiError && answer.outcome !== "gone") row.problem = error.problem;
  });
  return todo.length;
}

/** The report of a heal's restarts (restarted/refused counted from the rows). */
export function restartsReport(enabled: boolean, pods: PodRestart[], requests: number): PodRestartsReport {
  return {
    enabled,
    pods,
    restarted: pods.filter((p) => p.outcome === "restarted").length,
    refused: pods.filter((p) => p.outcome === "refused").length,
    requests,
  };
}
