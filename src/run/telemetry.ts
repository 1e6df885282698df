/**
 * Structured logs and CloudWatch metrics (EMF) through Powertools. One summary line per
 * invocation. Only Reports and error messages are logged; neither carries secret material.
 */
import type { Context } from "aws-lambda";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { BadRequestError, describeError } from "../shared/errors";
import type { Report } from "../report/report";

export const SERVICE_NAME = "ecr-token-rotator";
export const METRICS_NAMESPACE = "EcrTokenRotator";

export interface Telemetry {
  invocationStarted(context?: Context): void;
  /** Logs the summary line and publishes the metrics of a finished run. */
  reportFinished(report: Report): void;
  /** Logs and counts a run that could not start or was rejected. */
  reportRejected(error: unknown): void;
}

export function powertoolsTelemetry(): Telemetry {
  const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME;
  const logger = new Logger({ serviceName });
  const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE, serviceName });
  return {
    invocationStarted(context) {
      if (context) logger.addContext(context);
    },
    reportFinished(report) {
      const namespaces = (report.kubernetes?.clusters ?? []).flatMap((c) => c.namespaces);
      const byOutcome: Record<string, number> = {};
      for (const ns of namespaces) byOutcome[ns.outcome] = (byOutcome[ns.outcome] ?? 0) + 1;
      const { stuck, byCause } = stuckCounts(report);
      const summary = {
        ok: report.ok,
        action: report.action,
        trigger: report.trigger,
        dryRun: report.dryRun,
        ecrCalls: report.ecrCalls,
        secretsWritten: report.registries.filter((r) => r.outcome === "created" || r.outcome === "updated").length,
        namespacesByOutcome: byOutcome,
        // A conflict is reported and counted, and does not fail the run.
        namespacesInConflict: byOutcome.conflict ?? 0,
        ...(report.deadline ? { deadline: report.deadline.at, deadlineReached: report.deadline.reached } : {}),
        tokenSecondsRemaining: report.tokenSecondsRemaining,
        ...(stuck !== undefined ? { stuckContainers: stuck.length, stuckByCause: byCause } : {}),
        ...(report.checks ? { checksFailed: report.checks.filter((c) => c.status === "fail").map((c) => c.name) } : {}),
        report,
      };
      if (report.ok) logger.info("invocation summary", summary);
      // A failed doctor check is a finding, not a failed invocation.
      else if (report.action === "doctor") logger.warn("invocation summary", summary);
      else logger.error("invocation summary", summary);

      if (report.action === "doctor") {
        // Read-only: no rotation metrics; how many checks failed.
        metrics.addMetric("DoctorChecksFailed", MetricUnit.Count, summary.checksFailed?.length ?? 0);
        metrics.publishStoredMetrics();
      } else if (report.action === "diagnose") {
        // Read-only: no rotation metrics; how many containers are stuck pulling their image.
        if (stuck !== undefined) {
          metrics.addMetric("StuckContainers", MetricUnit.Count, stuck.length);
          metrics.publishStoredMetrics();
        }
      } else if (report.action !== "none" && !report.dryRun) {
        if (stuck !== undefined) metrics.addMetric("StuckContainers", MetricUnit.Count, stuck.length);
        metrics.addMetric(report.ok ? "RotationSucceeded" : "RotationFailed", MetricUnit.Count, 1);
        metrics.addMetric("SecretsWritten", MetricUnit.Count, summary.secretsWritten);
        if (report.tokenSecondsRemaining !== null) metrics.addMetric("TokenSecondsRemaining", MetricUnit.Seconds, report.tokenSecondsRemaining);
        if (report.kubernetes?.mode === "applied") {
          metrics.addMetric("NamespacesUpdated", MetricUnit.Count, (byOutcome.created ?? 0) + (byOutcome.updated ?? 0));
          metrics.addMetric("NamespacesFailed", MetricUnit.Count, byOutcome.failed ?? 0);
          metrics.addMetric("NamespacesInConflict", MetricUnit.Count, byOutcome.conflict ?? 0);
          metrics.addMetric("NamespacesEsoManaged", MetricUnit.Count, byOutcome["eso-managed"] ?? 0);
        }
        if (report.action === "heal") metrics.addMetric("HealDurationMs", MetricUnit.Milliseconds, report.durationMs);
        // Scope refusals: alarm clusters not configured (none written), namespaces outside NAMESPACE_SELECTOR.
        if (report.kubernetes?.unknownClusters) metrics.addMetric("AlarmClustersUnknown", MetricUnit.Count, report.kubernetes.unknownClusters.length);
        const outOfScope = (report.kubernetes?.clusters ?? []).reduce((n, c) => n + (c.outOfScope?.length ?? 0), 0);
        if (outOfScope > 0) metrics.addMetric("NamespacesOutOfScope", MetricUnit.Count, outOfScope);
        addRestartMetrics(metrics, report);
        if (report.deadline) metrics.addMetric("DeadlineReached", MetricUnit.Count, report.deadline.reached ? 1 : 0);
        const replicated = [...report.registries, ...(report.combinedSecret ? [report.combinedSecret] : [])].filter((r) => r.replicas !== undefined);
        if (replicated.length > 0) {
          // SECRET_REPLICA_REGIONS: replicas in the Failed state (also errors of the Report).
          metrics.addMetric("ReplicasFailed", MetricUnit.Count, replicated.flatMap((r) => r.replicas!).filter((r) => r.status === "Failed").length);
        }
        metrics.publishStoredMetrics();
      }
    },
    reportRejected(error) {
      logger.error("invocation rejected", { error: describeError(error) });
      metrics.addMetric("RotationFailed", MetricUnit.Count, 1);
      // A request refused before any write (out of scope, unknown names, malformed).
      if (error instanceof BadRequestError) metrics.addMetric("RequestsRefused", MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    },
  };
}

/** RESTART_STUCK_PODS: pods evicted (PodsRestarted) and evictions a PodDisruptionBudget refused (PodRestartsRefused). */
function addRestartMetrics(metrics: Metrics, report: Report): void {
  const restarts = (report.kubernetes?.clusters ?? []).flatMap((c) => (c.podRestarts?.enabled ? [c.podRestarts] : []));
  if (restarts.length === 0) return;
  metrics.addMetric(
    "PodsRestarted",
    MetricUnit.Count,
    restarts.reduce((n, r) => n + r.restarted, 0),
  );
  metrics.addMetric(
    "PodRestartsRefused",
    MetricUnit.Count,
    restarts.reduce((n, r) => n + r.refused, 0),
  );
}

/** Every stuck container, listed in `stuck` or beyond the per-run cap (`truncated`, counted by cause in `summary`). */
function stuckCounts(report: Report): { stuck: { length: number } | undefined; byCause: Record<string, number> } {
  const diagnoses = (report.kubernetes?.clusters ?? []).flatMap((c) => (c.diagnosis ? [c.diagnosis] : []));
  const stuck = diagnoses.length > 0 ? { length: diagnoses.reduce((n, d) => n + d.stuck.length + (d.truncated ?? 0), 0) } : undefined;
  const byCause: Record<string, number> = {};
  for (const d of diagnoses) {
    if (d.summary) for (const c of d.summary) byCause[c.code] = (byCause[c.code] ?? 0) + c.containers;
    else for (const s of d.stuck) for (const c of new Set(s.causes.map((x) => x.code))) byCause[c] = (byCause[c] ?? 0) + 1;
  }
  return { stuck, byCause };
}
