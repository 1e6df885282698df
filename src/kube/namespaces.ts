/**
 * Target namespace selection (pure). The engine LISTs namespaces once (with the label selector
 * in `selector` mode, so the API server filters) and this module decides which to write to.
 */
import { isValidNamespaceName, SYSTEM_NAMESPACES } from "../shared/names";
import type { KubeNamespace } from "./types";

export type NamespaceTarget =
  | { mode: "list"; names: string[] }
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
}

/** Shell-style glob (`*` and `?`) against a whole name. */
export function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(name);
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
  const consider = (ns: KubeNamespace): void => {
    if (ns.status?.phase === "Terminating") skipped.push({ namespace: ns.metadata.name, reason: "namespace is terminating" });
    else selected.push(ns.metadata.name);
  };
  switch (target.mode) {
    case "list": {
      for (const name of [...new Set(target.names)]) {
        const ns = byName.get(name);
        if (ns) consider(ns);
        else missing.push(name);
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
  return { selected: selected.sort(), missing: missing.sort(), skipped: skipped.sort((a, b) => a.namespace.localeCompare(b.namespace)) };
}

// ---- label selectors (the Kubernetes string syntax) ----

export type Requirement =
  | { key: string; op: "=" | "!="; values: [string] }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists"; values: [] };

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** Parses a label selector (`a=b,c!=d,e in (f,g),h notin (i),j,!k`); throws a precise message. */
export function parseLabelSelector(selector: string): Requirement[] {
  const trimmed = selector.trim();
  if (trimmed === "") return [];
  const out: Requirement[] = [];
  for (const raw of splitTopLevel(trimmed)) {
    const part = raw.trim();
    const fail = (why: string): never => {
      throw new Error(`invalid label selector "${selector}": ${why} in "${part}"`);
    };
    const checkKey = (key: string): string => (KEY.test(key) ? key : fail(`bad key "${key}"`));
    const checkValue = (value: string): string => (VALUE.test(value) && value.length <= 63 ? value : fail(`bad value "${value}"`));
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^(\S+)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = m[3]!.split(",").map((v) => checkValue(v.trim()));
      out.push({ key: checkKey(m[1]!), op: m[2] as "in" | "notin", values });
    } else if ((m = part.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      out.push({ key: checkKey(m[1]!), op: m[2] === "!=" ? "!=" : "=", values: [checkValue(m[3]!)] });
    } else if ((m = part.match(/^!\s*(\S+)$/))) {
      out.push({ key: checkKey(m[1]!), op: "!exists", values: [] });
    } else if ((m = part.match(/^(\S+)$/))) {
      out.push({ key: checkKey(m[1]!), op: "exists", values: [] });
    } else fail("cannot parse requirement");
  }
  return out;
}

export function matchesLabelSelector(requirements: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case "=":
        return has && value === r.values[0];
      case "!=":
        return !has || value !== r.values[0];
      case "in":
        return has && r.values.includes(value!);
      case "notin":
        return !has || !r.values.includes(value!);
      case "exists":
        return has;
      case "!exists":
        return !has;
    }
  });
}
