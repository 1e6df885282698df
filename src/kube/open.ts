/**
 * The one place that chooses and opens a Kubernetes client for a connection: the node:https
 * adapter (default, no dependency) or `@kubernetes/client-node` (`KUBE_CLIENT=client-node`).
 * Both are dynamic imports, so a bundle that never opens a client carries neither.
 */
import type { Deadline } from "../shared/deadline";
import type { KubeApi, KubeConnection } from "./types";

export type KubeClientKind = "https" | "client-node";

export interface OpenOptions {
  client?: KubeClientKind;
  /** Keep-alive sockets of the node:https adapter (its request concurrency). */
  maxSockets: number;
  /** Every request of the client ends by this deadline (each also has its own total timeout). */
  deadline?: Deadline;
}

/** Opens a client for `connection`; the caller closes it (`api.close?.()`). */
export async function openKubeApi(connection: KubeConnection, options: OpenOptions): Promise<KubeApi> {
  if (options.client === "client-node") {
    const { createKubeApi } = await import("./client");
    return createKubeApi(connection, options.deadline ? { deadline: options.deadline } : {});
  }
  const { createHttpKubeApi } = await import("./http-client");
  return createHttpKubeApi(connection, { maxSockets: options.maxSockets, ...(options.deadline ? { deadline: options.deadline } : {}) });
}
