/** The text rendering of one cluster's diagnosis (the CLI's per-cause lines and per-pod table). */
import type { Problem } from "../shared/problem";
import { formatTable } from "./table";

/** What the rendering needs of the Report's FormatOptions: the terminal width. */
interface FormatOptions {
  width?: number;
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
  | "registry-refused-credential"
  | "unknown";

/** Why a container is stuck pulling its image (diagnose/classify.ts decides it). */
export interface Cause {
  code: CauseCode;
  message: string;
  hint: string;
  /**
   * Set when the fix exists but cannot reach this pod: it copied imagePullSecrets from its
   * ServiceAccount at admission, before the ServiceAccount had them — only a new pod gets them.
   */
  recreate?: true;
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
  /** The pod's UID (the Events about it, and the restart's precondition, name this pod and no other). */
  podUid?: string;
  /** The pod's controller (ownerReferences with controller: true), e.g. `{ kind: "ReplicaSet", name: "web-7f9c" }`. */
  controller?: { kind: string; name: string };
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
  /** Why the cluster could not be read, typed (`unreadable` is derived from it). */
  problem?: Problem;
  /** `deadline`: the invocation's deadline cut the diagnosis (or it never started). */
  skipped?: "deadline";
  /** How the diagnosis read the cluster when it is worth saying (namespace-confined RBAC). */
  notes?: string[];
  requests?: number;
  durationMs?: number;
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
  // A diagnosis cut before it found anything claims nothing: no false all-clear.
  if (count === 0 && d.skipped !== undefined) return [...lines, `diagnosis (${cluster}): not done (${d.skipped}): nothing is known about stuck containers`];
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
