/**
 * One cluster session: what every reader and writer of one cluster shares — the connection, the
 * API (one client, opened here and closed here), the retry policy, the paging of its LISTs and
 * the run's deadline. Heal (kube/apply.ts, clusters/step.ts), diagnose (diagnose/context.ts) and
 * the doctor (doctor/cluster-context.ts) each open their sessions here and build their own
 * context on top of it; none opens a client or derives a policy of its own.
 */
import type { ClusterConfig } from "../config/config";
import { openKubeApi, type KubeClientKind } from "../kube/open";
import type { Paging } from "../kube/paging";
import { DEFAULT_RETRY_POLICY, withRetry, type RetryHooks, type RetryPolicy } from "../kube/retry";
import type { KubeApi } from "../kube/types";
import { NO_DEADLINE, type Deadline } from "../shared/deadline";
import { LIST_PAGE_SIZE } from "../shared/names";
import { connectCluster, type ClusterAccess, type ClusterConnection } from "./access";

export interface ClusterSession {
  connection: ClusterConnection;
  api: KubeApi;
  policy: RetryPolicy;
  /** The retry hooks of every request (sleep, jitter, the deadline). */
  hooks: RetryHooks;
  /** How its LISTs page (page size, `policy`, `hooks`). */
  paging: Paging;
  /** No request, page or retry starts after it. */
  deadline: Deadline;
  /** `request`, retried by `policy` within the deadline. */
  retried: <T>(request: () => Promise<T>) => Promise<T>;
}

/** How a session retries and pages (tests inject timings; the doctor a shorter policy). */
export interface SessionPolicy {
  /** The policy `retry` adjusts; default DEFAULT_RETRY_POLICY. */
  base?: RetryPolicy;
  retry?: Partial<RetryPolicy> | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
  random?: (() => number) | undefined;
  /** Page size of the LISTs (default LIST_PAGE_SIZE, src/shared/names.ts). */
  pageSize?: number | undefined;
  deadline?: Deadline | undefined;
}

/** What a reader or writer of the cluster needs of its session (the connection aside). */
export type SessionReads = Omit<ClusterSession, "connection">;

/** A session over an API already open (the caller closes it). */
export function sessionOf(connection: ClusterConnection, api: KubeApi, options: SessionPolicy = {}): ClusterSession {
  return { connection, ...readsOf(api, options) };
}

/** The reads of a session over `api` (the engines' own callers — tests, benches — pass only an API). */
export function readsOf(api: KubeApi, options: SessionPolicy = {}): SessionReads {
  const policy: RetryPolicy = { ...(options.base ?? DEFAULT_RETRY_POLICY), ...options.retry };
  const deadline = options.deadline ?? NO_DEADLINE;
  const hooks: RetryHooks = {
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.deadline ? { deadline: options.deadline } : {}),
  };
  return {
    api,
    policy,
    hooks,
    paging: { limit: options.pageSize ?? LIST_PAGE_SIZE, policy, hooks },
    deadline,
    retried: (request) => withRetry(() => request(), policy, hooks),
  };
}

/** Where a session's API comes from: an injected one (never closed here), or one opened for it. */
export interface SessionApi {
  /** `KUBE_CLIENT`: the node:https adapter or client-node. */
  client: KubeClientKind;
  /** Keep-alive sockets of the node:https adapter (its request concurrency). */
  maxSockets: number;
  /** An API to use as it is (tests, benches); the caller closes it. */
  api?: KubeApi | undefined;
  /** Opens the API instead of kube/open.ts (tests); its API is not closed here. */
  openApi?: ((connection: ClusterConnection, deadline: Deadline) => Promise<KubeApi>) | undefined;
}

export type SessionOptions = SessionApi & SessionPolicy & { deadline: Deadline };

/** Opens a session over `connection`, runs `use` with it, and closes the API it opened. */
export async function withSession<T>(connection: ClusterConnection, options: SessionOptions, use: (session: ClusterSession) => Promise<T>): Promise<T> {
  const injected = options.api ?? (options.openApi ? await options.openApi(connection, options.deadline) : undefined);
  const api = injected ?? (await openKubeApi(connection, { client: options.client, maxSockets: options.maxSockets, deadline: options.deadline }));
  try {
    return await use(sessionOf(connection, api, options));
  } finally {
    if (injected === undefined) await api.close?.()?.catch(() => undefined);
  }
}

/** Reaches `cluster` (fleet/access.ts), then {@link withSession}. */
export async function withClusterSession<T>(
  cluster: ClusterConfig,
  access: ClusterAccess,
  options: SessionOptions,
  use: (session: ClusterSession) => Promise<T>,
): Promise<T> {
  const connection = await connectCluster(access, cluster, options.deadline);
  return withSession(connection, options, use);
}
