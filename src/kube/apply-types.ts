/**
 * The apply engine's vocabulary: what to apply to one cluster (ClusterTarget), what came of it
 * (ClusterApplyResult), the options (ApplyDeps), and the context its steps share.
 */
import type { DockerConfig, RegistryLogin } from "../formats/dockerconfig";
import type { SecretSummary } from "./decide";
import type { NamespaceTarget } from "./namespaces";
import type { RetryPolicy } from "./retry";
import type { SessionReads } from "../fleet/session";
import type { Deadline } from "../shared/deadline";
import type { Problem } from "../shared/problem";
import type { KubeApi, KubeResource, KubeServiceAccount, KubeVerb } from "./types";

export interface ClusterTarget {
  /** Cluster name, for the report. */
  cluster: string;
  namespaces: NamespaceTarget;
  /** Name of the pull Secret, e.g. `ecr-pull-secret`. */
  pullSecretName: string;
  /** ServiceAccounts whose `imagePullSecrets` gain the Secret, e.g. `["default"]`; `[]` = none. */
  patchServiceAccounts: string[];
  /** Annotate matching ExternalSecrets with `force-sync=<unix seconds>`; undefined = off. */
  esoResync?: { labelSelector: string };
  /** Bounded parallel requests, e.g. 16. */
  concurrency: number;
  /** Overwrite a same-named dockerconfigjson Secret that is not labelled as ours. */
  adoptUnmanaged: boolean;
  /** Compute and report every write, write nothing. */
  dryRun: boolean;
  /** Registry hosts whose entry is removed from the pull Secrets (ECR Public whose refresh failed). */
  withdrawHosts?: string[];
}

/**
 * `eso-managed`: External Secrets Operator owns the Secret; it is not written, its ExternalSecret
 * is asked to re-sync. `conflict`: a foreign Secret of that name (or another type) — reported,
 * never written, not a failure. `skipped`: the namespace cannot take writes (terminating), or
 * the deadline came first (reason `deadline`, which does fail the run).
 */
export type NamespaceOutcome = "created" | "updated" | "unchanged" | "eso-managed" | "conflict" | "failed" | "skipped";

export interface NamespaceResult {
  namespace: string;
  outcome: NamespaceOutcome;
  /** Why (conflict, failed, skipped), or a remark (adopted, replaced invalid content). No secrets. */
  reason?: string;
  /** Remarks to append to `reason` (the ESO re-sync's, joined by the engine when the cluster is done). */
  remarks?: string[];
  /** `failed`, or `skipped` by the deadline: what went wrong, typed (the reason is derived from it). */
  problem?: Problem;
  /** ServiceAccounts given the pull secret (or that would be, in a dry run). */
  serviceAccountsPatched?: string[];
  /** Requested ServiceAccounts that do not exist in this namespace (reported, not created). */
  serviceAccountsMissing?: string[];
  serviceAccountsFailed?: Array<{ name: string; reason: string }>;
  /** Dry run: a write would have been made for this namespace. */
  wouldWrite?: boolean;
  /** Attempts the Secret write took (only when > 1). */
  attempts?: number;
  /** `eso-managed`: the ExternalSecret that owns the Secret (`namespace/name`), when known. */
  externalSecret?: string;
}

export interface ClusterApplyResult {
  cluster: string;
  dryRun: boolean;
  pullSecretName: string;
  /** One entry per target namespace, sorted by name. */
  namespaces: NamespaceResult[];
  counts: Record<NamespaceOutcome, number>;
  serviceAccounts: {
    /** `namespace/name` */
    patched: string[];
    unchanged: number;
    missing: string[];
    failed: Array<{ serviceAccount: string; reason: string }>;
  };
  externalSecrets: {
    /** ESO_RESYNC is configured (ExternalSecrets owning an ESO-managed pull secret are re-synced regardless). */
    enabled: boolean;
    /**
     * `namespace/name` of ExternalSecrets re-synced (or that would be): annotated directly, or,
     * for a child of a ClusterExternalSecret, through its parent (see `clusterExternalSecrets`).
     */
    resynced: string[];
    /**
     * Names of the ClusterExternalSecrets patched (or that would be) to re-sync their children
     * (`spec.externalSecretMetadata.annotations["force-sync"]`). Present only when there is one.
     */
    clusterExternalSecrets?: string[];
    failed: Array<{ externalSecret: string; reason: string }>;
  };
  /**
   * The target namespaces as the namespace LIST found them (selected, then terminating ones);
   * absent when it could not be listed. Not reported: the diagnosis after a heal reads its scope
   * from it instead of listing the namespaces again.
   */
  listedNamespaces?: string[];
  /** Cluster-level problems (e.g. the namespace LIST failed), as text for the Report. */
  errors: string[];
  /** The same cluster-level failures, typed (an unauthorized namespace LIST, say). */
  problems: Problem[];
  /**
   * Namespaces a request named outside the configured ones (NAMESPACE_SELECTOR, judged by their
   * labels here): the cluster was refused, nothing written (also in `errors`).
   */
  outOfScope?: string[];
  /** Work the invocation's deadline cut or never let start (namespaces, LISTs, re-syncs). */
  deadlineReached: boolean;
  /** What the writes mean for running pods, and any degraded mode used. */
  notes: string[];
  /** Kubernetes API requests made (including retries). */
  requests: number;
  durationMs: number;
  /**
   * No failed namespace, ServiceAccount, ExternalSecret, no cluster-level error, and the deadline
   * cut nothing. A `conflict` does not make it false (retrying cannot change it).
   */
  ok: boolean;
}

export interface ApplyDeps {
  now?: () => Date;
  /**
   * The API to use (the caller then closes it). Default: the node:https adapter of
   * ./http-client for `connection`. For `@kubernetes/client-node`, pass
   * `await (await import("./client")).createKubeApi(connection)`: this module never references
   * ./client, so no bundle of it carries client-node.
   */
  api?: KubeApi;
  onProgress?: (done: number, total: number) => void;
  retry?: Partial<RetryPolicy>;
  /** For tests: replaces the backoff sleep. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Page size of the cluster-wide LISTs (default LIST_PAGE_SIZE, src/shared/names.ts). */
  pageSize?: number;
  /**
   * The invocation's deadline: no namespace, LIST page or retry starts after it (those left are
   * reported `skipped`, reason `deadline`). The API passed in bounds each request by it too.
   */
  deadline?: Deadline;
  /**
   * The cluster session to work in (fleet/session.ts: the heal step opens one per cluster); its
   * API, retry policy, paging and deadline then replace `api`, `retry`, `sleep`, `random`,
   * `pageSize` (and `deadline` should be the session's).
   */
  session?: SessionReads;
}

/** One apply's context: its cluster session (the API counted), and what it applies. */
export interface ApplyContext extends SessionReads {
  target: ClusterTarget;
  logins: RegistryLogin[];
  deps: ApplyDeps;
  result: ClusterApplyResult;
  /** Secret values scrubbed from every reason. */
  secrets: readonly string[];
  describe: (error: unknown, verb: KubeVerb, resource: KubeResource, namespace?: string) => string;
  /** Namespaces whose Secret has no foreign entries share one encoded docker config string. */
  encode: (merged: DockerConfig, foreign: DockerConfig | undefined) => string;
}

/** What the cluster-wide LISTs found: the namespaces to write to, and the objects already there. */
export interface ClusterState {
  selected: string[];
  /** Pull secret summaries by namespace; undefined when the LIST failed (then each is read). */
  knownSecrets: Map<string, SecretSummary> | undefined;
  /** ServiceAccount name → namespace → object; a name is absent when its LIST failed. */
  knownSAs: Map<string, Map<string, KubeServiceAccount>>;
}
