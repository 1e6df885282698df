/**
 * Which configured clusters a request covers. Pure and light: src/run/run.ts validates a manual
 * request's cluster names with it before anything is written.
 */
import type { ClusterConfig } from "../config/config";
import { BadRequestError } from "../shared/errors";
import { closeMatches } from "../formats/close-match";
import type { Request } from "./triggers";

/** Unknown names are a bad request; an alarm naming a configured cluster heals only that one. */
export function selectClusters(configured: ClusterConfig[], request: Request): ClusterConfig[] {
  const matches = (cluster: ClusterConfig, name: string) => name === cluster.name || name === `${cluster.region}:${cluster.name}`;
  if (request.clusters !== undefined) {
    const unknown = request.clusters.filter((name) => !configured.some((c) => matches(c, name)));
    if (unknown.length > 0) {
      throw BadRequestError.manual(
        `cluster${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} not configured (EKS_CLUSTERS: ${configured.map((c) => `${c.region}:${c.name}`).join(", ") || "none"})${suggestions(configured, unknown)}`,
      );
    }
    return configured.filter((c) => request.clusters!.some((name) => matches(c, name)));
  }
  // An alarm on one cluster's pull failures heals that cluster (if it is configured).
  const alarmed = request.trigger.alarmClusters;
  if (alarmed !== undefined) {
    const hit = configured.filter((c) => alarmed.includes(c.name));
    if (hit.length > 0) return hit;
  }
  return configured;
}

/** `; did you mean …?` for unknown cluster names, from the configured clusters only (in the form typed: name or region:name). */
function suggestions(configured: ClusterConfig[], unknown: string[]): string {
  const near = unknown.flatMap((name) =>
    closeMatches(
      name,
      configured.map((c) => (name.includes(":") ? `${c.region}:${c.name}` : c.name)),
    ),
  );
  return near.length > 0 ? `; did you mean ${[...new Set(near)].join(" or ")}?` : "";
}
