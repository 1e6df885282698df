/**
 * The pods' side of a heal and a diagnosis, once the diagnosis is known: the optional restart
 * of the stuck pods the heal's fix cannot reach by itself (src/kube/restart.ts), and the
 * Kubernetes Events on the stuck pods and the written pull Secrets (src/kube/events.ts). Both
 * attach their report to the cluster's; neither fails the run (a failed eviction is a row).
 */
import type { Config } from "../config/config";
import type { Request } from "../request/triggers";
import type { ClusterReport } from "../report/report";
import type { Deadline } from "../shared/deadline";
import { LIST_PAGE_SIZE } from "../shared/names";
import { MAX_SECRET_EVENTS, podEvents, recordEvents, secretEvents } from "../kube/events";
import { decideRestarts, restartPods, restartsReport } from "../kube/restart";
import { restartDecision } from "../request/restart-request";
import { DEFAULT_RETRY_POLICY } from "../kube/retry";
import type { KubeApi } from "../kube/types";

export interface PodActionsInput {
  config: Config;
  request: Request;
  api: KubeApi;
  /** The cluster's report, its diagnosis (after the heal's writes) included; gains `podRestarts` and `events`. */
  report: ClusterReport;
  deadline: Deadline;
}

/** Namespaces whose pull secret this heal created, updated or had re-synced (or would, in a dry run). */
const REFRESHED = new Set(["created", "updated", "eso-managed", "would-create", "would-update"]);

/** Heal: restart (or list) the pods that need it, then record the Events; diagnose: the Events only. */
export async function actOnPods({ config, request, api, report, deadline }: PodActionsInput): Promise<void> {
  const diagnosis = report.diagnosis;
  if (diagnosis === undefined || diagnosis.unreadable !== undefined || deadline.expired()) return;
  const k = config.kubernetes;
  const restarted = new Set<string>();
  if (request.action === "heal") {
    const decision = restartDecision(k.restartStuckPods, request.restartPods);
    const enabled = "enabled" in decision && decision.enabled;
    const refreshed = new Set(report.namespaces.filter((n) => REFRESHED.has(n.outcome)).map((n) => n.namespace));
    const rows = decideRestarts(diagnosis.stuck, { enabled, dryRun: request.dryRun, max: k.restartMaxPods, refreshed });
    if (rows.length > 0) {
      const uids = new Map(diagnosis.stuck.flatMap((s) => (s.podUid ? [[`${s.namespace}/${s.pod}`, s.podUid] as const] : [])));
      const requests = enabled && !request.dryRun ? await restartPods(api, rows, uids) : 0;
      report.podRestarts = restartsReport(enabled, rows, requests);
      // An eviction that failed (not refused by a budget: a 403, say) is the run's failure: the operator asked for it.
      const failed = rows.filter((r) => r.outcome === "failed").length;
      if (failed > 0) {
        report.ok = false;
        report.error = [report.error, `${failed} pod restart(s) failed (see podRestarts)`].filter(Boolean).join("; ");
      }
      for (const row of rows) if (row.outcome === "restarted" || row.outcome === "gone") restarted.add(`${row.namespace}/${row.pod}`);
    }
  }
  if (!k.recordEvents || request.dryRun || deadline.expired()) return;
  const now = new Date();
  const written = request.action === "heal" ? report.namespaces.filter((n) => n.outcome === "created" || n.outcome === "updated") : [];
  const wanted = [
    ...podEvents(diagnosis.stuck, now, restarted),
    ...secretEvents(
      written.slice(0, MAX_SECRET_EVENTS).map((n) => ({ namespace: n.namespace, outcome: n.outcome as "created" | "updated" })),
      k.pullSecretName,
      config.rotation.registries.map((r) => r.host),
      now,
    ),
  ];
  if (wanted.length === 0) return;
  report.events = await recordEvents(api, wanted, { limit: LIST_PAGE_SIZE, policy: DEFAULT_RETRY_POLICY, hooks: { deadline } }, now);
}
