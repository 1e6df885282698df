/**
 * A request can narrow the configured scope, never widen it. Its `clusters` must be configured
 * (EKS_CLUSTERS) and its `namespaces` selected by configuration (TARGET_NAMESPACES, or all
 * namespaces but EXCLUDE_NAMESPACES and the system ones); anything outside is refused by name
 * before any write. Under NAMESPACE_SELECTOR a name is in scope only if the namespace's labels
 * match: that is known in the cluster, so the target carries the selector (`within`) and the
 * apply engine refuses the cluster before writing to it (kube/namespaces.ts). Pure.
 */
import type { ConfiguredNamespaces, KubernetesConfig } from "../config/config";
import { globMatch } from "../formats/glob";
import { boundedList, shownValue } from "../shared/bounded-list";
import { BadRequestError } from "../shared/errors";
import { SYSTEM_NAMESPACES } from "../shared/names";
import { selectClusters } from "./cluster-selection";
import type { Request } from "./triggers";

/** The namespaces a cluster step works on (the apply engine's and the diagnosis' NamespaceTarget). */
export type RequestedNamespaces = ConfiguredNamespaces | { mode: "list"; names: string[]; within?: { labelSelector: string } };

/** What configuration selects, as a refusal names it. */
export function describeNamespaceScope(configured: ConfiguredNamespaces): string {
  switch (configured.mode) {
    case "list":
      return `TARGET_NAMESPACES=${shownValue(configured.names.join(","))}`;
    case "selector":
      return `NAMESPACE_SELECTOR=${shownValue(configured.labelSelector)}`;
    case "all":
      return `all namespaces except ${boundedList([...new Set([...SYSTEM_NAMESPACES, ...configured.exclude])])} (EXCLUDE_NAMESPACES and the system namespaces)`;
  }
}

/**
 * The requested names configuration does not select, as far as it is known without the cluster
 * (a selector's match needs the namespaces' labels: see `within`).
 */
export function namespacesOutsideScope(configured: ConfiguredNamespaces, requested: readonly string[]): string[] {
  switch (configured.mode) {
    case "list":
      return requested.filter((name) => !configured.names.includes(name));
    case "selector":
      return [];
    case "all":
      return requested.filter((name) => SYSTEM_NAMESPACES.includes(name) || configured.exclude.some((pattern) => globMatch(pattern, name)));
  }
}

/**
 * Refuses a request that names a cluster or a namespace outside the configuration, before
 * anything is written (src/run/run.ts calls it first).
 */
export function checkRequestScope(kubernetes: KubernetesConfig, request: Request): void {
  if (request.clusters !== undefined) selectClusters(kubernetes.clusters, request);
  if (request.namespaces === undefined) return;
  const outside = namespacesOutsideScope(kubernetes.namespaces, request.namespaces);
  if (outside.length > 0) {
    throw BadRequestError.manual(
      `namespace${outside.length > 1 ? "s" : ""} ${boundedList(outside)} outside the configured namespaces (${describeNamespaceScope(kubernetes.namespaces)}): a request can narrow the configured scope, never widen it`,
    );
  }
}

/** The namespaces a cluster step works on: the configured ones, or the request's within them. */
export function requestedNamespaces(configured: ConfiguredNamespaces, request: Pick<Request, "namespaces">): RequestedNamespaces {
  if (request.namespaces === undefined) return configured;
  return {
    mode: "list",
    names: request.namespaces,
    ...(configured.mode === "selector" ? { within: { labelSelector: configured.labelSelector } } : {}),
  };
}
