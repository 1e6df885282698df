import { describe, expect, it } from "vitest";
import { globMatch, matchesLabelSelector, parseLabelSelector, selectNamespaces, SYSTEM_NAMESPACES } from "../../src/kube/namespaces";
import type { KubeNamespace } from "../../src/kube/types";

const ns = (name: string, labels: Record<string, string> = {}, phase = "Active"): KubeNamespace => ({ metadata: { name, labels }, status: { phase } });
const cluster = [
  ns("default"),
  ns("kube-system"),
  ns("kube-public"),
  ns("kube-node-lease"),
  ns("team-a", { pulls: "ecr", tier: "prod" }),
  ns("team-b", { pulls: "ecr", tier: "dev" }),
  ns("sandbox-1", { tier: "dev" }),
  ns("sandbox-2"),
  ns("leaving", { pulls: "ecr" }, "Terminating"),
];

describe("selectNamespaces", () => {
  it("list: keeps the named ones, reports missing ones, dedups, sorts", () => {
    const s = selectNamespaces({ mode: "list", names: ["team-b", "team-a", "nope", "team-a"] }, cluster);
    expect(s.selected).toEqual(["team-a", "team-b"]);
    expect(s.missing).toEqual(["nope"]);
    expect(s.skipped).toEqual([]);
  });

  it("list: an explicitly named system namespace is selected", () => {
    expect(selectNamespaces({ mode: "list", names: ["kube-system"] }, cluster).selected).toEqual(["kube-system"]);
  });

  it("selector: matches labels (also re-checked client-side), skips terminating namespaces", () => {
    const s = selectNamespaces({ mode: "selector", labelSelector: "pulls=ecr" }, cluster);
    expect(s.selected).toEqual(["team-a", "team-b"]);
    expect(s.skipped).toEqual([{ namespace: "leaving", reason: "namespace is terminating" }]);
    expect(selectNamespaces({ mode: "selector", labelSelector: "tier in (dev),!pulls" }, cluster).selected).toEqual(["sandbox-1"]);
  });

  it("all: everything minus exclusions (names and globs) and minus system namespaces", () => {
    const s = selectNamespaces({ mode: "all", exclude: ["sandbox-*", "default"] }, cluster);
    expect(s.selected).toEqual(["team-a", "team-b"]);
    expect(s.skipped.map((x) => x.namespace)).toEqual(["leaving"]);
    for (const sys of SYSTEM_NAMESPACES) expect(s.selected).not.toContain(sys);
  });

  it("all with includeSystem keeps the system namespaces", () => {
    const s = selectNamespaces({ mode: "all", exclude: [], includeSystem: true }, cluster);
    expect(s.selected).toEqual(["default", "kube-node-lease", "kube-public", "kube-system", "sandbox-1", "sandbox-2", "team-a", "team-b"]);
  });
});

describe("globMatch", () => {
  it("matches whole names with * and ?, escapes regex characters", () => {
    expect(globMatch("sandbox-*", "sandbox-1")).toBe(true);
    expect(globMatch("sandbox-*", "my-sandbox-1")).toBe(false);
    expect(globMatch("team-?", "team-a")).toBe(true);
    expect(globMatch("a.b", "axb")).toBe(false);
  });
});

describe("label selectors", () => {
  const labels = { app: "web", tier: "prod", "example.com/owner": "x" };
  it.each([
    ["app=web", true],
    ["app==web", true],
    ["app!=web", false],
    ["app!=db", true],
    ["missing!=x", true],
    ["tier in (prod, dev)", true],
    ["tier notin (prod)", false],
    ["missing notin (prod)", true],
    ["example.com/owner", true],
    ["!example.com/owner", false],
    ["!missing", true],
    ["app=web,tier=dev", false],
    ["app=web,tier in (dev,prod),!missing", true],
    ["", true],
  ])("%s → %s", (selector, expected) => {
    expect(matchesLabelSelector(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it("rejects malformed selectors with a precise message", () => {
    expect(() => parseLabelSelector("app=we b")).toThrow(/invalid label selector/);
    expect(() => parseLabelSelector("=x")).toThrow(/invalid label selector/);
    expect(() => parseLabelSelector("tier in (a b)")).toThrow(/bad value/);
  });
});
