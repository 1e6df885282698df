/**
 * What one diagnosis shares (the target, the options, the counted API, paging, retries and the
 * diagnosis being built), and how a read failure is described.
 */
import { scrub } from "../shared/redact-text";
import { classify as classifyFailure, type RetryPolicy } from "../kube/retry";
import { forEachListed } from "../kube/paging";
import type { SessionReads } from "../fleet/session";
import type { NamespaceTarget } from "../kube/namespaces";
import { KubeApiError, type KubeApi, type ListOptions, type ListPage } from "../kube/types";
import type { ClusterDiagnosis } from "../report/report";
import type { Deadline } from "../shared/deadline";

/** Stuck containers listed at most (see DiagnoseDeps.maxStuck). */
export const MAX_STUCK = 500;
/** Parallel reads of Secrets and ServiceAccount lists. */
export const READ_CONCURRENCY = 8;

export interface DiagnoseTarget {
  namespaces: NamespaceTarget;
  /**
   * The namespaces in scope, already listed (a heal's writes did: its selected and terminating
   * namespaces); then the diagnosis does not LIST namespaces itself.
   */
  listed?: readonly string[];
  /**
   * The namespaces the configuration selects, when `namespaces` names others (--namespace): a
   * named namespace the cluster does not have is an error, with its close matches from this scope
   * (never from outside it).
   */
  scope?: NamespaceTarget;
  /** Registry hosts this deployment keeps fresh. */
  configuredHosts: string[];
  /** The pull secret the product writes. */
  pullSecretName: string;
  /** The ServiceAccounts a heal adds the pull secret to (PATCH_SERVICE_ACCOUNTS). */
  patchServiceAccounts?: readonly string[];
}

export interface DiagnoseDeps {
  /**
   * The cluster session to read in (fleet/session.ts: the diagnose and heal steps open one per
   * cluster); its API, retry policy, paging and deadline then replace `api`, `retry`, `sleep`,
   * `pageSize` and `deadline`. One of `session` and `api` is required.
   */
  session?: SessionReads;
  /** The API to read with, for a caller without a session (tests, benches). */
  api?: KubeApi;
  now?: () => Date;
  /** Page size of the cluster-wide LISTs (default LIST_PAGE_SIZE, src/shared/names.ts; items are reduced as they arrive). */
  pageSize?: number;
  /**
   * At most this many stuck containers are listed in the report (default 500: a row is ~1–2 KB,
   * and a Lambda response is at most 6 MB); every one is classified and counted by cause.
   */
  maxStuck?: number;
  /** Parallel reads. Default 8. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  /** The invocation's deadline: no LIST page, read or retry starts after it. */
  deadline?: Deadline;
}

/** What one diagnosis shares: its cluster session (the API counted), and the diagnosis being built. */
export interface DiagnoseContext extends SessionReads {
  target: DiagnoseTarget;
  deps: DiagnoseDeps;
  now: Date;
  diagnosis: ClusterDiagnosis & { errors: string[] };
  /** Cluster-wide LISTs were forbidden: the namespaces of the explicit list are read one by one. */
  confined?: boolean;
}

/** A 403 on a cluster-wide LIST with an explicit namespace list: those namespaces can be read one by one instead. */
export const confinedNamespaces = (ctx: DiagnoseContext, error: unknown): readonly string[] | undefined =>
  ctx.target.namespaces.mode === "list" && classifyFailure(error).kind === "forbidden" ? ctx.target.namespaces.names : undefined;

/** A LIST made cluster-wide, or per namespace under namespace-confined RBAC (see listClusterOrNamespaces). */
export interface ScopedList<T, R> {
  /** The namespaces read one by one when the cluster-wide LIST is forbidden. */
  namespaces: ReadonlySet<string>;
  clusterWide: (o: ListOptions, onItem: (item: T) => void) => Promise<ListPage<T>>;
  namespaced: (namespace: string, o: ListOptions, onItem: (item: T) => void) => Promise<ListPage<T>>;
  options: Omit<ListOptions, "limit">;
  /** Each item reduced on arrival (undefined: dropped; see forEachListed). */
  reduce: (item: T) => R | undefined;
}

/**
 * One cluster-wide LIST; under namespace-confined RBAC (an explicit namespace list, and a 403 on
 * the cluster-wide LIST) one LIST per namespace in `list.namespaces` instead. Items are reduced
 * on arrival by `list.reduce` and handed to `each`.
 */
export async function listClusterOrNamespaces<T, R>(ctx: DiagnoseContext, list: ScopedList<T, R>, each: (item: R) => void): Promise<void> {
  const { paging } = ctx;
  const { clusterWide, namespaced, options, reduce } = list;
  if (!ctx.confined) {
    try {
      await forEachListed(clusterWide, options, each, paging, reduce);
      return;
    } catch (error) {
      if (confinedNamespaces(ctx, error) === undefined) throw error;
      ctx.confined = true;
    }
  }
  for (const namespace of [...list.namespaces].sort()) await forEachListed((o, onItem) => namespaced(namespace, o, onItem), options, each, paging, reduce);
}

/** `namespace/pod/container`: the key of a stuck container in the maps of a diagnosis. */
export const containerKey = (namespace: string, pod: string, container: string): string => `${namespace}/${pod}/${container}`;

/** A read failure in a few words: the status and the API server's message (scrubbed), never a body. */
export function describe(error: unknown, what: string): string {
  if (error instanceof KubeApiError) {
    const kind = classifyFailure(error).kind;
    const p = error.problem;
    return `${what}: ${p.kind === "network" ? `network error ${p.errno ?? p.code}` : `${error.status ?? p.kind}${error.message ? ` ${scrub(error.message)}` : ""}`} (${kind})`;
  }
  return `${what}: ${scrub(error instanceof Error ? error.message : String(error))}`;
}
