/**
 * The pods' side of a heal in the Report: the restarts (src/kube/restart.ts) and the Events
 * (src/kube/events.ts), their types and their text lines.
 */
import type { Problem } from "../shared/problem";

export type RestartCase = "back-off" | "admission";

/**
 * One pod's row: `needs-restart` (restarts are off: what to do by hand), `would-restart` (dry
 * run), `restarted`, `refused` (a PodDisruptionBudget), `gone` (deleted or replaced meanwhile),
 * `failed`, `not-owned` (no controller would replace it), `over-limit` (beyond RESTART_MAX_PODS).
 */
export type RestartOutcome = "needs-restart" | "would-restart" | "restarted" | "refused" | "gone" | "failed" | "not-owned" | "over-limit";

export interface PodRestart {
  namespace: string;
  pod: string;
  /** `ReplicaSet/web-7f9c` */
  controller?: string;
  case: RestartCase;
  outcome: RestartOutcome;
  /** Why it needs a restart (and, for refused/failed/not-owned, why it did not get one). No secrets. */
  reason: string;
  problem?: Problem;
}

export interface PodRestartsReport {
  /** RESTART_STUCK_PODS (and the request) let the heal restart pods. */
  enabled: boolean;
  pods: PodRestart[];
  restarted: number;
  refused: number;
  /** Eviction requests made. */
  requests: number;
}

export interface EventsReport {
  /** Created this run. */
  recorded: number;
  /** Already there from an earlier run: count raised (deduplicated). */
  repeated: number;
  failed: number;
  /** Beyond MAX_EVENTS this run. */
  skipped: number;
  requests: number;
  /** Why some could not be written (the first few), secret-free. */
  errors?: string[];
}

const WORDS: Record<RestartOutcome, string> = {
  "needs-restart": "needs a restart",
  "would-restart": "would be restarted",
  restarted: "restarted (evicted; its controller replaces it)",
  refused: "NOT restarted: refused",
  gone: "already gone",
  failed: "restart FAILED",
  "not-owned": "needs a restart by hand",
  "over-limit": "needs a restart (over the limit)",
};

/** A cluster's restart rows and Event counts, for the text rendering (one line each). */
export function formatPodActions(cluster: string, c: { podRestarts?: PodRestartsReport; events?: EventsReport }): string[] {
  const lines: string[] = [];
  const r = c.podRestarts;
  if (r !== undefined) {
    if (!r.enabled && r.pods.some((p) => p.outcome === "needs-restart"))
      lines.push(`restarts (${cluster}): off — set RESTART_STUCK_PODS=true (heal --restart-pods) to have the heal evict these pods, or delete them by hand`);
    for (const p of r.pods) lines.push(`  ${p.namespace}/${p.pod}${p.controller ? ` (${p.controller})` : ""}: ${WORDS[p.outcome]} — ${p.reason}`);
  }
  const e = c.events;
  if (e !== undefined) {
    lines.push(
      `events (${cluster}): ${e.recorded} recorded, ${e.repeated} repeated (count raised)${e.failed > 0 ? `, ${e.failed} failed` : ""}${e.skipped > 0 ? `, ${e.skipped} over the per-run limit` : ""} — kubectl describe shows them`,
    );
    for (const error of e.errors ?? []) lines.push(`  event not written: ${error}`);
  }
  return lines;
}
