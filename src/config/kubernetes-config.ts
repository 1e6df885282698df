/**
 * The Kubernetes half of the configuration: the clusters (clusters.ts), which namespaces, the
 * pull Secret's name, the ServiceAccounts to patch, the ExternalSecrets to re-sync, concurrency
 * and the HTTP adapter.
 */
import { isDnsLabel, isDnsSubdomain, MAX_KUBE_CONCURRENCY } from "../shared/names";
import { showValue } from "../shared/redact";
import { parseLabelSelector } from "../formats/label-selector";
import { readClusters } from "./clusters";
import type { EnvReader } from "./env-reader";
import { DEFAULT_EXCLUDED_NAMESPACES, type ConfiguredNamespaces, type KubernetesConfig } from "./types";

/** The problem with a label selector (Kubernetes syntax), or undefined when it parses. */
function selectorProblem(selector: string): string | undefined {
  try {
    parseLabelSelector(selector);
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^invalid label selector "(?:[^"\\]|\\.)*": /, "");
  }
}

/** TARGET_NAMESPACES, NAMESPACE_SELECTOR and EXCLUDE_NAMESPACES: at most one way of choosing. */
function readNamespaces(reader: EnvReader): ConfiguredNamespaces {
  const target = reader.list("TARGET_NAMESPACES", { noSpaces: true });
  const selector = reader.raw("NAMESPACE_SELECTOR");
  const exclude = reader.list("EXCLUDE_NAMESPACES", { noSpaces: true });
  for (const name of [...target.filter((t) => t !== "*"), ...exclude]) {
    if (!isDnsLabel(name)) reader.problem(`TARGET_NAMESPACES/EXCLUDE_NAMESPACES: ${JSON.stringify(name)} is not a valid namespace name`);
  }
  const bad = selector === undefined ? undefined : selectorProblem(selector);
  if (bad !== undefined) reader.problem(`NAMESPACE_SELECTOR=${showValue(selector!)}: not a label selector (${bad}); e.g. team=a,tier in (web,api)`);
  const all = target.length === 1 && target[0] === "*";
  if (target.includes("*") && !all) reader.problem('TARGET_NAMESPACES: "*" must stand alone');
  if (selector !== undefined && target.length > 0) reader.problem("TARGET_NAMESPACES and NAMESPACE_SELECTOR: set one, not both");
  if (exclude.length > 0 && (selector !== undefined || (target.length > 0 && !all))) {
    reader.problem('EXCLUDE_NAMESPACES applies only to TARGET_NAMESPACES="*" (or the default, all namespaces)');
  }
  if (selector !== undefined) return { mode: "selector", labelSelector: selector };
  if (target.length > 0 && !all) return { mode: "list", names: [...new Set(target)] };
  return { mode: "all", exclude: exclude.length > 0 ? exclude : DEFAULT_EXCLUDED_NAMESPACES };
}

/** ESO_RESYNC: off (unset, off, false, none), all ("*", all, true: ""), or a label selector. */
function readEsoResync(reader: EnvReader): string | undefined {
  const eso = reader.raw("ESO_RESYNC");
  if (eso === undefined || /^(off|false|none)$/i.test(eso)) return undefined;
  if (eso === "*" || /^(all|true)$/i.test(eso)) return "";
  const bad = selectorProblem(eso);
  if (bad === undefined) return eso;
  reader.problem(`ESO_RESYNC=${showValue(eso)}: expected a label selector (${bad}), "*" for all ExternalSecrets, or off`);
  return undefined;
}

export function readKubernetesConfig(reader: EnvReader, defaultRegion: string | undefined): KubernetesConfig {
  const clusters = readClusters(reader, defaultRegion);
  const pullSecretName = reader.string("PULL_SECRET_NAME", "ecr-pull-secret")!;
  if (!isDnsSubdomain(pullSecretName)) reader.problem(`PULL_SECRET_NAME=${JSON.stringify(pullSecretName)}: not a valid Secret name (lower-case DNS subdomain)`);
  const patchServiceAccounts = [...new Set(reader.list("PATCH_SERVICE_ACCOUNTS", { noSpaces: true }))];
  for (const sa of patchServiceAccounts)
    if (!isDnsSubdomain(sa)) reader.problem(`PATCH_SERVICE_ACCOUNTS: ${JSON.stringify(sa)} is not a valid ServiceAccount name`);
  const esoResyncSelector = readEsoResync(reader);
  return {
    clusters,
    fallbackMode: reader.oneOf("FALLBACK_MODE", ["off", "on-heal", "always"] as const, "on-heal"),
    namespaces: readNamespaces(reader),
    pullSecretName,
    patchServiceAccounts,
    esoResyncSelector,
    concurrency: reader.integer("KUBE_CONCURRENCY", 16, 1, MAX_KUBE_CONCURRENCY),
    clusterConcurrency: reader.integer("KUBE_CLUSTER_CONCURRENCY", 4, 1, 32),
    adoptExistingPullSecrets: reader.boolean("ADOPT_EXISTING_PULL_SECRETS", false),
    client: reader.oneOf("KUBE_CLIENT", ["https", "client-node"] as const, "https"),
    // The pods' side of a heal (src/kube/restart.ts, src/kube/events.ts).
    restartStuckPods: reader.boolean("RESTART_STUCK_PODS", false),
    restartMaxPods: reader.integer("RESTART_MAX_PODS", 20, 1, 500),
    recordEvents: reader.boolean("RECORD_EVENTS", true),
  };
}
