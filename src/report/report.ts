/**
 * The structured result of one invocation. It never holds secret material: only hosts, names,
 * outcomes, reasons, expiry times and counts.
 *
 * Over 300 lines: the Report's types are the product's output contract and stay beside their one
 * text rendering; the generic table and wrapping helpers live in report/table.ts.
 */
import type { Action, Trigger } from "../request/triggers";
import { rerunCommand } from "../shared/next-step";
import type { Problem } from "../shared/problem";
import { formatChecks, type DoctorCheck } from "./checks";
import { formatDiagnosis, type ClusterDiagnosis } from "./diagnosis-text";
import { formatTable } from "./table";

export { formatTable, table, wrapText } from "./table";
export { formatDiagnosis, TEXT_TABLE_ROWS } from "./diagnosis-text";
import { formatPodActions, type EventsReport, type PodRestartsReport } from "./pod-actions";
export type { Cause, CauseCode, CauseSummary, ClusterDiagnosis, StuckContainer, StuckContainerReport } from "./diagnosis-text";

/** `skipped`: the invocation's deadline came first (reason `deadline`); the stored value stays. */
export type RegistryOutcome = "created" | "updated" | "unchanged" | "debounced" | "would-create" | "would-update" | "failed" | "skipped";

export interface RegistryReport {
  registry: string;
  accountId: string;
  region: string;
  secretName: string;
  outcome: RegistryOutcome;
  reason: string;
  /** Expiry of the token now stored in the secret (ISO-8601). */
  expiresAt?: string;
  secondsRemaining?: number;
  versionId?: string;
  /** SECRET_READERS: what happened to the secret's resource policy. */
  resourcePolicy?: ResourcePolicyOutcome;
  /** SECRET_REPLICA_REGIONS: replicas as read after the write. */
  replicas?: ReplicaReport[];
  /** Replica regions added by this run (dry run: that would be added). */
  replicasAdded?: string[];
}

export type ResourcePolicyOutcome = "put" | "unchanged" | "would-put" | "failed";

/** One replica of a secret: `InSync`, `InProgress` or `Failed` (with Secrets Manager's message). */
export interface ReplicaReport {
  region: string;
  status: string;
  message?: string;
}

export interface CombinedSecretReport {
  secretName: string;
  outcome: RegistryOutcome | "skipped";
  reason: string;
  /** Set when something went wrong (the deadline, a failed write): what, typed. */
  problem?: Problem;
  versionId?: string;
  resourcePolicy?: ResourcePolicyOutcome;
  replicas?: ReplicaReport[];
  replicasAdded?: string[];
}

export interface NamespaceReport {
  namespace: string;
  /**
   * `eso-managed`: External Secrets Operator owns the Secret (not written; its ExternalSecret is
   * re-synced). `conflict`: a foreign Secret of that name — reported, not written, does not fail
   * the run. `skipped` with reason `deadline`: the invocation's deadline came first (fails the run).
   */
  outcome: "created" | "updated" | "unchanged" | "eso-managed" | "conflict" | "failed" | "skipped" | "would-create" | "would-update";
  reason?: string;
  /** `failed`, or `skipped` by the deadline: what went wrong, typed (`reason` is derived from it). */
  problem?: Problem;
  /** A namespace the run named (--namespace) that the cluster does not have: re-running it cannot help. */
  notFound?: true;
  serviceAccountsPatched?: string[];
}

export interface ClusterReport {
  cluster: string;
  region: string;
  ok: boolean;
  error?: string;
  /** `deadline`: the invocation's deadline cut this cluster's work (what is left is `skipped`). */
  skipped?: "deadline";
  /** The cluster-level failures behind `error`, typed (a refused token, an unreachable endpoint…). */
  problems?: Problem[];
  /** Namespaces the request named outside the configured ones (NAMESPACE_SELECTOR): refused, nothing written here. */
  outOfScope?: string[];
  namespaces: NamespaceReport[];
  /** `namespace/name` of ServiceAccounts patched (new pods get the pull secret), missing, failed. */
  serviceAccounts?: { patched: string[]; missing: string[]; failed: string[] };
  /** `namespace/name` of ExternalSecrets annotated with force-sync, and failures. */
  /**
   * `resynced`: `namespace/name` of the ExternalSecrets re-synced; `clusterExternalSecrets` (only
   * when any): the ClusterExternalSecrets patched to re-sync their children (listed in `resynced`).
   */
  externalSecrets?: { resynced: string[]; clusterExternalSecrets?: string[]; failed: string[] };
  /** What the writes mean for running pods (in-place update: no restart needed), degraded modes. */
  notes?: string[];
  /** Kubernetes API requests made, retries included. */
  requests?: number;
  durationMs?: number;
  /** Pods still stuck pulling their image (diagnose; heal: after its writes) and why. */
  diagnosis?: ClusterDiagnosis;
  /** Heal: the stuck pods its fix cannot reach by itself — restarted (RESTART_STUCK_PODS), or that need a restart, and why. */
  podRestarts?: PodRestartsReport;
  /** The Kubernetes Events heal and diagnose wrote (RECORD_EVENTS). */
  events?: EventsReport;
}

export interface KubernetesReport {
  /** `diagnosed`: the diagnose action (read-only, nothing applied). */
  mode: "skipped" | "applied" | "diagnosed";
  reason?: string;
  /** Per cluster; the diagnosis of stuck pods is `clusters[].diagnosis`. */
  clusters: ClusterReport[];
  /** Clusters an alarm's ClusterName dimensions name that EKS_CLUSTERS does not: none written; not a failure. */
  unknownClusters?: string[];
}

export interface Report {
  ok: boolean;
  action: Action | "none";
  trigger: Trigger;
  dryRun: boolean;
  force: boolean;
  startedAt: string;
  durationMs: number;
  /** ECR GetAuthorizationToken calls made. */
  ecrCalls: number;
  registries: RegistryReport[];
  combinedSecret?: CombinedSecretReport;
  /** Minimum seconds of validity left over the tokens now in Secrets Manager; null if none. */
  tokenSecondsRemaining: number | null;
  kubernetes?: KubernetesReport;
  /** Set when the invocation did nothing on purpose (e.g. an alarm going back to OK). */
  ignored?: string;
  /**
   * The invocation's deadline (ISO-8601) and whether it cut any work (then the run failed and
   * what was left is reported `skipped`, reason `deadline`). Absent without a deadline.
   */
  deadline?: { at: string; reached: boolean };
  /**
   * The run was interrupted (the CLI's Ctrl-C): no new work started after it, what was in flight
   * was aborted and the work not done is reported `skipped`, reason `interrupted`. The Report says
   * what was written before it (the registries' outcomes). Absent when not interrupted.
   */
  interrupted?: true;
  /**
   * The doctor action's checklist, in order (absent for the other actions). `ok` is false when a
   * check failed, and `errors` holds one `<name>: <detail>` per failed check.
   */
  checks?: DoctorCheck[];
  errors: string[];
}

const OUTCOME_WORD: Record<string, string> = {
  created: "created",
  updated: "updated",
  unchanged: "unchanged",
  debounced: "kept (debounced)",
  "would-create": "would create",
  "would-update": "would update",
  failed: "FAILED",
  skipped: "skipped",
  "eso-managed": "ESO-managed",
};

function formatDuration(seconds: number): string {
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${sign}${h}h${String(m).padStart(2, "0")}m`;
}

export interface FormatOptions {
  /**
   * Terminal width: a table's last column (WHY, HINT, STATUS) is wrapped to it. Undefined (a
   * pipe, a log): lines are never wrapped. The full text is always in the JSON Report.
   */
  width?: number;
  /** Options the re-run command of failed namespaces carries (e.g. `--function NAME`). */
  rerunOptions?: string;
}

/** What the sections of {@link formatReport} share: the lines so far and the texts already on screen. */
interface Rendering {
  lines: string[];
  /** Texts already on screen: an error line repeating one is left out (each failure is said once). */
  shown: string[];
  table: (header: string[], rows: string[][]) => string[];
  options: FormatOptions;
}

/** Human-readable rendering of a Report (for the CLI). */
export function formatReport(report: Report, options: FormatOptions = {}): string {
  const out: Rendering = { lines: [], shown: [], table: (header, rows) => formatTable(header, rows, options.width), options };
  const { lines, shown } = out;
  const trigger = report.trigger.alarmName ? `${report.trigger.via} (${report.trigger.alarmName})` : report.trigger.via;
  lines.push(
    `${report.ok ? "OK" : "FAILED"}  action=${report.action} trigger=${trigger}${report.dryRun ? " DRY RUN (nothing written)" : ""}${report.force ? " force" : ""}  ${report.durationMs} ms, ${report.ecrCalls} ECR call${report.ecrCalls === 1 ? "" : "s"}`,
  );
  if (report.ignored) lines.push(`ignored: ${report.ignored}`);
  if (report.checks) {
    lines.push(...formatChecks(report.checks, options.width));
    // Each failed check is on screen with its fix: its error line would say it twice.
    for (const check of report.checks) if (check.status === "fail") shown.push(`${check.name}: ${check.detail}`);
  }
  renderRegistries(report, out);
  if (report.kubernetes) renderKubernetes(report, report.kubernetes, out);
  if (report.tokenSecondsRemaining !== null) lines.push(`token validity left (minimum): ${formatDuration(report.tokenSecondsRemaining)}`);
  if (report.interrupted)
    lines.push("interrupted: no new work started after it and the work in flight was aborted (reason: interrupted); the rows above say what was written");
  else if (report.deadline?.reached) lines.push(`deadline ${report.deadline.at} reached: the work left was skipped (reason: deadline)`);
  for (const error of report.errors) if (!shown.some((text) => error.includes(text))) lines.push(`error: ${error}`);
  return lines.join("\n");
}

function renderRegistries(report: Report, out: Rendering): void {
  if (report.registries.length > 0) {
    const rows = report.registries.map((r) => [
      r.registry,
      r.secretName,
      OUTCOME_WORD[r.outcome] ?? r.outcome,
      r.expiresAt ?? "-",
      r.secondsRemaining === undefined ? "-" : formatDuration(r.secondsRemaining),
      r.reason,
    ]);
    out.lines.push(...out.table(["REGISTRY", "SECRET", "OUTCOME", "EXPIRES", "LEFT", "WHY"], rows));
  }
  if (report.combinedSecret) {
    const c = report.combinedSecret;
    out.lines.push(`combined secret ${c.secretName}: ${OUTCOME_WORD[c.outcome] ?? c.outcome} (${c.reason})`);
  }
}

function renderKubernetes(report: Report, k: NonNullable<Report["kubernetes"]>, out: Rendering): void {
  const { lines, shown } = out;
  if (k.mode === "skipped") {
    lines.push(`kubernetes: SKIPPED: ${k.reason ?? ""}`);
    if (k.reason) shown.push(k.reason.replace(/^failed: /, ""));
  }
  if (k.clusters.length === 0) return;
  if (k.mode === "diagnosed") renderDiagnosedClusters(k.clusters, out);
  else lines.push(...clusterTable(k.clusters, out));
  for (const cluster of k.clusters) {
    if (k.mode === "diagnosed" && cluster.diagnosis === undefined) continue;
    renderClusterNotes(report, cluster, out);
    if (k.mode !== "diagnosed" && cluster.error) shown.push(cluster.error);
  }
  if (report.dryRun && k.mode === "applied") for (const cluster of k.clusters) lines.push(...formatDryRunWrites(cluster));
  for (const cluster of k.clusters) {
    if (!cluster.diagnosis) continue;
    lines.push(...formatDiagnosis(cluster.cluster, cluster.diagnosis, out.options));
    if (cluster.diagnosis.unreadable !== undefined) shown.push(cluster.diagnosis.unreadable);
    lines.push(...formatPodActions(cluster.cluster, cluster));
  }
}

function renderDiagnosedClusters(clusters: readonly ClusterReport[], out: Rendering): void {
  for (const c of clusters) {
    if (c.ok || c.diagnosis?.unreadable !== undefined) continue;
    out.lines.push(`cluster ${c.region}:${c.cluster}: FAILED${c.error ? `: ${c.error}` : ""}`);
    if (c.error) out.shown.push(c.error);
  }
}

function clusterTable(clusters: readonly ClusterReport[], out: Rendering): string[] {
  const count = (c: ClusterReport, ...outcomes: string[]) => String(c.namespaces.filter((n) => outcomes.includes(n.outcome)).length);
  return out.table(
    ["CLUSTER", "CREATED", "UPDATED", "UNCHANGED", "ESO-MANAGED", "CONFLICT", "FAILED", "SKIPPED", "SA PATCHED", "ESO RE-SYNCED", "STATUS"],
    clusters.map((c) => [
      `${c.region}:${c.cluster}`,
      count(c, "created", "would-create"),
      count(c, "updated", "would-update"),
      count(c, "unchanged"),
      count(c, "eso-managed"),
      count(c, "conflict"),
      count(c, "failed"),
      count(c, "skipped"),
      String(c.serviceAccounts?.patched.length ?? 0),
      c.externalSecrets ? String(c.externalSecrets.resynced.length) : "-",
      c.ok ? "ok" : `FAILED${c.error ? `: ${c.error}` : ""}`,
    ]),
  );
}

/** One cluster's notable namespaces (failed, conflict, ESO-managed, cut by the deadline), the re-run command, its notes. */
function renderClusterNotes(report: Report, cluster: ClusterReport, out: Rendering): void {
  const notable = cluster.namespaces.filter(
    (n) => n.outcome === "failed" || n.outcome === "conflict" || n.outcome === "eso-managed" || (n.outcome === "skipped" && n.problem?.kind === "deadline"),
  );
  if (notable.length > 0)
    out.lines.push(
      ...out.table(
        ["NAMESPACE", "OUTCOME", "WHY"],
        notable.map((n) => [`${cluster.cluster}/${n.namespace}`, n.outcome, n.reason ?? ""]),
      ),
    );
  const failed = cluster.namespaces.filter((n) => n.outcome === "failed" && n.notFound !== true).map((n) => n.namespace);
  if (failed.length > 0 && report.action === "heal")
    out.lines.push(
      `re-run the failed namespace${failed.length === 1 ? "" : "s"} of ${cluster.cluster}: ${rerunCommand(cluster.cluster, failed, out.options.rerunOptions)}`,
    );
  for (const note of cluster.notes ?? []) out.lines.push(`note (${cluster.cluster}): ${note}`);
}

/** A dry run's Kubernetes writes, one line each: what the same heal without dryRun would write. */
export function formatDryRunWrites(cluster: ClusterReport): string[] {
  const writes: string[] = [];
  for (const n of cluster.namespaces) {
    if (n.outcome === "would-create") writes.push(`create the pull secret in ${n.namespace}`);
    if (n.outcome === "would-update") writes.push(`update the pull secret in ${n.namespace} (in place)`);
  }
  for (const sa of cluster.serviceAccounts?.patched ?? []) writes.push(`patch ServiceAccount ${sa} (imagePullSecrets)`);
  for (const es of cluster.externalSecrets?.resynced ?? []) writes.push(`annotate ExternalSecret ${es} (force-sync)`);
  if (writes.length === 0) return [`dry run (${cluster.cluster}): no Kubernetes write would be made`];
  return [
    `dry run (${cluster.cluster}): ${writes.length} Kubernetes write${writes.length === 1 ? "" : "s"} would be made:`,
    ...writes.map((w) => `  would ${w}`),
  ];
}
