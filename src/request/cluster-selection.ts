/**
 * Which configured clusters a request covers. Pure and light: src/run/run.ts validates a manual
 * request's cluster names with it before anything is written.
 */
import type { ClusterConfig } from "../config/config";
import { boundedList } from "../shared/bounded-list";
import { BadRequestError } from "../shared/errors";
import { closeMatches } from "../formats/close-match";
import type { Request } from "./triggers";

/**
 * Unknown names are a bad request; an alarm naming clusters heals only those configured (none
 * when it names only clusters that are not: see unknownAlarmClusters); an alarm without a
 * cluster dimension heals every configured cluster.
 */
export function selectClusters(configured: ClusterConfig[], request: Request): ClusterConfig[] {
  const matches = (cluster: ClusterConfig, name: string) => name === cluster.name || name === `${cluster.region}:${cluster.name}`;
  if (request.clusters !== undefined) {
    const unknown = request.clusters.filter((name) => !configured.some((c) => matches(c, name)));
    if (unknown.length > 0) {
      throw BadRequestError.manual(
        `cluster${unknown.length > 1 ? "s" : ""} ${boundedList(unknown, { quoted: false })} not configured (EKS_CLUSTERS: ${configured.map((c) => `${c.region}:${c.name}`).join(", ") || "none"})${suggestions(configured, unknown)}`,
      );
    }
    return configured.filter((c) => request.clusters!.some((name) => matches(c, name)));
  }
  // An alarm on one cluster's pull failures heals that cluster, never one it does not name.
  const alarmed = request.trigger.alarmClusters;
  if (alarmed !== undefined) return configured.filter((c) => alarmed.includes(c.name));
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

/** The clusters an alarm's ClusterName dimensions name that are not configured (none written; reported). */
export function unknownAlarmClusters(configured: ClusterConfig[], request: Request): string[] {
  return (request.trigger.alarmClusters ?? []).filter((name) => !configured.some((c) => c.name === name));
}
