/**
 * The structured result of one invocation. It never holds secret material: only hosts, names,
 * outcomes, reasons, expiry times and counts.
 *
 * Over 300 lines: the Report's types are the product's output contract and stay beside their one
 * text rendering; the generic table and wrapping helpers live in report/table.ts.
 */
import type { Action, Trigger } from "../request/triggers";
import { rerunCommand } from "../shared/next-step";
import { formatChecks, type DoctorCheck } from "./checks";
import { formatTable } from "./table";

export { formatTable, table, wrapText } from "./table";

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
  serviceAccountsPatched?: string[];
}

/** One container stuck pulling its image, and why. */
export type CauseCode =
  | "no-image-pull-secrets"
  | "default-service-account-trap"
  | "pull-secret-not-found"
  | "wrong-secret-type"
  | "invalid-pull-secret"
  | "registry-host-mismatch"
  | "token-expired"
  | "wrong-region"
  | "not-a-credential-problem"
  | "registry-permission-denied"
  | "unknown";

/** Why a container is stuck pulling its image (diagnose/classify.ts decides it). */
export interface Cause {
  code: CauseCode;
  message: string;
  hint: string;
}

/** A container stuck pulling its image: the record the diagnosis reads, classifies and reports. */
export interface StuckContainer {
  namespace: string;
  pod: string;
  container: string;
  image: string;
  /** ErrImagePull, ImagePullBackOff or InvalidImageName. */
  reason: string;
  /** The kubelet's waiting message (scrubbed in a report). */
  message?: string;
}

export interface StuckContainerReport extends StuckContainer {
  /**
   * The kubelet's pull error for this container (from its waiting message or its newest `Failed`
   * event that carries the error), with credentials removed and nothing else.
   */
  detail?: string;
  causes: Cause[];
}

/** One cause across the cluster: how many stuck containers it explains, and where. */
export interface CauseSummary {
  code: CauseCode;
  /** Stuck containers with this cause (rows beyond the per-run cap included). */
  containers: number;
  /** The namespaces of those containers, sorted. */
  namespaces: string[];
}

/** Diagnosis of one cluster: every container stuck pulling its image in the target namespaces. */
export interface ClusterDiagnosis {
  /** Pods read in the target namespaces (finished pods excluded). */
  podsScanned: number;
  stuck: StuckContainerReport[];
  /** Per cause code, most containers first: every stuck container is counted, listed in `stuck` or not. */
  summary?: CauseSummary[];
  /** Stuck containers beyond the per-run cap: classified and counted in `summary`, not listed in `stuck`. */
  truncated?: number;
  /** What could not be read (the diagnosis is partial). */
  errors?: string[];
  /**
   * Set when the cluster could not be read at all (403, 401, network): the reason. Then nothing
   * is known about its pods: the report says so once and claims nothing about stuck containers.
   */
  unreadable?: string;
  /** How the diagnosis read the cluster when it is worth saying (namespace-confined RBAC). */
  notes?: string[];
  requests?: number;
  durationMs?: number;
}

export interface ClusterReport {
  cluster: string;
  region: string;
  ok: boolean;
  error?: string;
  /** `deadline`: the invocation's deadline cut this cluster's work (what is left is `skipped`). */
  skipped?: "deadline";
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

/** Human-readable rendering of a Report (for the CLI). */
export function formatReport(report: Report, options: FormatOptions = {}): string {
  const lines: string[] = [];
  const table = (header: string[], rows: string[][]) => formatTable(header, rows, options.width);
  /** Texts already on screen: an error line repeating one is left out (each failure is said once). */
  const shown: string[] = [];
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
  if (report.registries.length > 0) {
    const rows = report.registries.map((r) => [
      r.registry,
      r.secretName,
      OUTCOME_WORD[r.outcome] ?? r.outcome,
      r.expiresAt ?? "-",
      r.secondsRemaining === undefined ? "-" : formatDuration(r.secondsRemaining),
      r.reason,
    ]);
    lines.push(...table(["REGISTRY", "SECRET", "OUTCOME", "EXPIRES", "LEFT", "WHY"], rows));
  }
  if (report.combinedSecret) {
    const c = report.combinedSecret;
    lines.push(`combined secret ${c.secretName}: ${OUTCOME_WORD[c.outcome] ?? c.outcome} (${c.reason})`);
  }
  if (report.kubernetes) {
    const k = report.kubernetes;
    if (k.mode === "skipped") {
      lines.push(`kubernetes: SKIPPED: ${k.reason ?? ""}`);
      if (k.reason) shown.push(k.reason.replace(/^failed: /, ""));
    }
    if (k.clusters.length > 0) {
      const count = (c: ClusterReport, ...outcomes: string[]) => String(c.namespaces.filter((n) => outcomes.includes(n.outcome)).length);
      if (k.mode === "diagnosed") {
        for (const c of k.clusters) {
          if (c.ok || c.diagnosis?.unreadable !== undefined) continue;
          lines.push(`cluster ${c.region}:${c.cluster}: FAILED${c.error ? `: ${c.error}` : ""}`);
          if (c.error) shown.push(c.error);
        }
      } else
        lines.push(
          ...table(
            ["CLUSTER", "CREATED", "UPDATED", "UNCHANGED", "ESO-MANAGED", "CONFLICT", "FAILED", "SKIPPED", "SA PATCHED", "ESO RE-SYNCED", "STATUS"],
            k.clusters.map((c) => [
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
          ),
        );
      for (const cluster of k.clusters) {
        if (k.mode === "diagnosed" && cluster.diagnosis === undefined) continue;
        const notable = cluster.namespaces.filter(
          (n) =>
            n.outcome === "failed" || n.outcome === "conflict" || n.outcome === "eso-managed" || (n.outcome === "skipped" && n.reason?.startsWith("deadline")),
        );
        if (notable.length > 0)
          lines.push(
            ...table(
              ["NAMESPACE", "OUTCOME", "WHY"],
              notable.map((n) => [`${cluster.cluster}/${n.namespace}`, n.outcome, n.reason ?? ""]),
            ),
          );
        const failed = cluster.namespaces.filter((n) => n.outcome === "failed").map((n) => n.namespace);
        if (failed.length > 0 && report.action === "heal")
          lines.push(
            `re-run the failed namespace${failed.length === 1 ? "" : "s"} of ${cluster.cluster}: ${rerunCommand(cluster.cluster, failed, options.rerunOptions)}`,
          );
        if (k.mode !== "diagnosed" && cluster.error) shown.push(cluster.error);
        for (const note of cluster.notes ?? []) lines.push(`note (${cluster.cluster}): ${note}`);
      }
      if (report.dryRun && k.mode === "applied") for (const cluster of k.clusters) lines.push(...formatDryRunWrites(cluster));
      for (const cluster of k.clusters) {
        if (!cluster.diagnosis) continue;
        lines.push(...formatDiagnosis(cluster.cluster, cluster.diagnosis, options));
        if (cluster.diagnosis.unreadable !== undefined) shown.push(cluster.diagnosis.unreadable);
      }
    }
  }
  if (report.tokenSecondsRemaining !== null) lines.push(`token validity left (minimum): ${formatDuration(report.tokenSecondsRemaining)}`);
  if (report.deadline?.reached) lines.push(`deadline ${report.deadline.at} reached: the work left was skipped (reason: deadline)`);
  for (const error of report.errors) if (!shown.some((text) => error.includes(text))) lines.push(`error: ${error}`);
  return lines.join("\n");
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

/** Rows of the per-pod table in the text rendering (`--json` keeps every listed container). */
export const TEXT_TABLE_ROWS = 50;
/** Namespaces named per cause line in the text rendering (`--json` keeps them all). */
const SUMMARY_NAMESPACES = 6;

/**
 * The diagnosis of one cluster: one line per cause (its count and namespaces, most frequent
 * first), then the per-pod table — one row per cause of each stuck container, at most
 * TEXT_TABLE_ROWS containers (the Report keeps every one).
 */
export function formatDiagnosis(cluster: string, d: ClusterDiagnosis, options: FormatOptions = {}): string[] {
  const lines: string[] = [];
  const table = (header: string[], rows: string[][]) => formatTable(header, rows, options.width);
  if (d.unreadable !== undefined) return [`diagnosis (${cluster}): could not read the cluster: ${d.unreadable}`];
  for (const note of d.notes ?? []) lines.push(`diagnosis (${cluster}): ${note}`);
  const count = d.stuck.length + (d.truncated ?? 0);
  lines.push(
    `diagnosis (${cluster}): ${count === 0 ? "no container stuck pulling its image" : `${count} container${count === 1 ? "" : "s"} stuck pulling ${count === 1 ? "its image" : "their images"}`} (${d.podsScanned} pod${d.podsScanned === 1 ? "" : "s"} scanned)`,
  );
  if (d.summary && d.summary.length > 0) {
    const width = Math.max(...d.summary.map((c) => String(c.containers).length));
    const codeWidth = Math.max(...d.summary.map((c) => c.code.length));
    for (const c of d.summary) {
      const shown = c.namespaces.slice(0, SUMMARY_NAMESPACES).join(", ");
      const more = c.namespaces.length > SUMMARY_NAMESPACES ? `, … (+${c.namespaces.length - SUMMARY_NAMESPACES})` : "";
      lines.push(
        `  ${String(c.containers).padStart(width)} × ${c.code.padEnd(codeWidth)}  in ${c.namespaces.length} namespace${c.namespaces.length === 1 ? "" : "s"}: ${shown}${more}`,
      );
    }
  }
  if (d.stuck.length > 0) {
    const rows: string[][] = [];
    for (const s of d.stuck.slice(0, TEXT_TABLE_ROWS)) {
      s.causes.forEach((c, i) => {
        rows.push(
          i === 0
            ? [`${s.namespace}/${s.pod}${s.container !== s.pod ? ` [${s.container}]` : ""}`, s.image, c.code, `${c.message} — ${c.hint}`]
            : ["", "", c.code, `${c.message} — ${c.hint}`],
        );
      });
    }
    lines.push(...table(["NAMESPACE/POD", "IMAGE", "CAUSE", "HINT"], rows));
    if (d.stuck.length > TEXT_TABLE_ROWS) lines.push(`… ${d.stuck.length - TEXT_TABLE_ROWS} more stuck container(s): --json lists every one`);
  }
  if (d.truncated) lines.push(`… ${d.truncated} more stuck container(s) beyond the per-run cap: counted by cause above, not listed`);
  for (const e of d.errors ?? []) lines.push(`diagnosis incomplete (${cluster}): ${e}`);
  return lines;
}
