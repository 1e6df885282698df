/**
 * Target namespace selection (pure). The engine LISTs namespaces once (with the label selector
 * in `selector` mode, so the API server filters) and this module decides which to write to.
 */
import { isValidNamespaceName, SYSTEM_NAMESPACES } from "../shared/names";
import { matchesLabelSelector, parseLabelSelector } from "../formats/label-selector";
import { globMatch } from "../formats/glob";
import { boundedList, shownValue } from "../shared/bounded-list";
import type { KubeNamespace } from "./types";

export { globMatch };

export type NamespaceTarget =
  | {
      mode: "list";
      names: string[];
      /**
       * A request's names under NAMESPACE_SELECTOR: a named namespace is in scope only if its
       * labels match; one that does not is `outside` (refused, never written).
       */
      within?: { labelSelector: string };
    }
  | { mode: "selector"; labelSelector: string }
  | {
      mode: "all";
      /** Names or `*` globs (e.g. `sandbox-*`). */
      exclude: string[];
      /** Also write to kube-system, kube-public, kube-node-lease (default false). */
      includeSystem?: boolean;
    };

/** Left out of `all` unless `includeSystem`; an explicit list or a selector may still name them. */
export { SYSTEM_NAMESPACES, isValidNamespaceName };

export interface SelectedNamespaces {
  /** Namespaces to write to, sorted. */
  selected: string[];
  /** Named in a `list` but absent from the cluster. */
  missing: string[];
  /** Matching namespaces that cannot take writes (Terminating), with why. */
  skipped: Array<{ namespace: string; reason: string }>;
  /** Named in a `list` with `within`, present, but not matching the configured selector. */
  outside: string[];
}

/**
 * A request named namespaces outside the configured ones (NAMESPACE_SELECTOR, found from their
 * labels in the cluster): nothing is written to that cluster.
 */
export class NamespacesOutOfScopeError extends Error {
  override readonly name = "NamespacesOutOfScopeError";
  constructor(
    readonly namespaces: readonly string[],
    /** What configuration selects, e.g. `NAMESPACE_SELECTOR="team=a"`. */
    readonly scope: string,
  ) {
    super(
      `namespace${namespaces.length > 1 ? "s" : ""} ${boundedList(namespaces)} outside the configured namespaces (${scope}): refused, nothing written to this cluster`,
    );
  }
}

/** The scope a `within` target refuses by, as its error names it. */
export function withinScope(within: { labelSelector: string }): string {
  return `NAMESPACE_SELECTOR=${shownValue(within.labelSelector)}`;
}

/**
 * Picks the target namespaces from the cluster's namespaces (as listed: in `selector` mode the
 * list was already filtered by the API server; the selector is matched here again so a fake or a
 * proxy that ignores it cannot widen the target).
 */
export function selectNamespaces(target: NamespaceTarget, clusterNamespaces: readonly KubeNamespace[]): SelectedNamespaces {
  const byName = new Map(clusterNamespaces.map((ns) => [ns.metadata.name, ns]));
  const selected: string[] = [];
  const missing: string[] = [];
  const skipped: SelectedNamespaces["skipped"] = [];
  const outside: string[] = [];
  const consider = (ns: KubeNamespace): void => {
    if (ns.status?.phase === "Terminating") skipped.push({ namespace: ns.metadata.name, reason: "namespace is terminating" });
    else selected.push(ns.metadata.name);
  };
  switch (target.mode) {
    case "list": {
      const within = target.within ? parseLabelSelector(target.within.labelSelector) : undefined;
      for (const name of [...new Set(target.names)]) {
        const ns = byName.get(name);
        if (!ns) missing.push(name);
        else if (within && !matchesLabelSelector(within, ns.metadata.labels ?? {})) outside.push(name);
        else consider(ns);
      }
      break;
    }
    case "selector": {
      const selector = parseLabelSelector(target.labelSelector);
      for (const ns of clusterNamespaces) if (matchesLabelSelector(selector, ns.metadata.labels ?? {})) consider(ns);
      break;
    }
    case "all": {
      for (const ns of clusterNamespaces) {
        const name = ns.metadata.name;
        if (!target.includeSystem && SYSTEM_NAMESPACES.includes(name)) continue;
        if (target.exclude.some((pattern) => globMatch(pattern, name))) continue;
        consider(ns);
      }
      break;
    }
  }
  return {
    selected: selected.sort(),
    missing: missing.sort(),
    skipped: skipped.sort((a, b) => a.namespace.localeCompare(b.namespace)),
    outside: outside.sort(),
  };
}

// Label selectors (the Kubernetes string syntax) are a pure format: src/formats/label-selector.ts.
export { matchesLabelSelector, parseLabelSelector, type Requirement } from "../formats/label-selector";
