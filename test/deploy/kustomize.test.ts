/**
 * infra/k8s as a kustomize base (kubectl's built-in kustomize): the base, the two overlays (ESO
 * only, with the direct fallback) and the optional components render to exactly the shipped
 * manifests, and the pull secret's name, set once in an overlay, reaches every place that names
 * it (the ClusterExternalSecret's target, the ClusterRole's resourceNames, the admission
 * policies' list) and nothing else. eso-kustomize-bed.test.ts applies the rendering on the bed.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { K8S, kustomize, writeOverlay } from "../support/kustomize";
import type { Json } from "./support";

/** `kubectl kustomize DIR`, parsed. */
const render = async (dir: string): Promise<Json[]> => loadAll(await kustomize(dir)) as Json[];
/** The documents of shipped manifest files (relative to infra/k8s). */
const docsOf = (...files: string[]): Json[] => files.flatMap((f) => loadAll(readFileSync(join(K8S, f), "utf8")) as Json[]);
const byId = (docs: Json[]) => [...docs].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
const find = (docs: Json[], kind: string, name: string) => {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  expect(doc, `${kind}/${name}`).toBeDefined();
  return doc;
};
const BASE = ["base/cluster-secret-store.yaml", "base/cluster-external-secret.yaml"];
const FALLBACK = ["components/fallback/rbac.yaml", "components/fallback/admission-policy.yaml"];

/** Where the pull secret's name appears in a rendering with the fallback (the replacement's targets). */
function namePlaces(docs: Json[]) {
  const rule = find(docs, "ClusterRole", "ecr-token-rotator").rules.find((r: Json) => r.resources.includes("secrets") && r.resourceNames);
  const list = (policy: string) => find(docs, "ValidatingAdmissionPolicy", policy).spec.variables.find((v: Json) => v.name === "pullSecretNames");
  return {
    target: find(docs, "ClusterExternalSecret", "ecr-pull-secret").spec.externalSecretSpec.target,
    rule,
    secrets: list("ecr-token-rotator-secrets"),
    serviceAccounts: list("ecr-token-rotator-serviceaccounts"),
  };
}

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
/** An overlay outside the repository, as a user writes one: the base, components, the name. */
function userOverlay(name: string, components: string[]): string {
  const dir = writeOverlay(name, components);
  temps.push(dir);
  return dir;
}

describe("infra/k8s with kustomize", () => {
  it("infra/k8s renders the base: the ClusterSecretStore and the ClusterExternalSecret, as shipped", async () => {
    expect(byId(await render(K8S))).toEqual(byId(docsOf(...BASE)));
  });

  it("eso-only renders the same (the name set to the default; the local-config object is not output)", async () => {
    const docs = await render(join(K8S, "eso-only"));
    expect(byId(docs)).toEqual(byId(docsOf(...BASE)));
    expect(docs.map((d) => d.kind)).not.toContain("ConfigMap");
  });

  it("fallback renders the base plus the RBAC and the admission policies, as shipped", async () => {
    const docs = await render(join(K8S, "fallback"));
    expect(byId(docs)).toEqual(byId(docsOf(...BASE, ...FALLBACK)));
    expect(docs.map((d) => d.kind)).not.toContain("ConfigMap");
  });

  it("a name set once in an overlay reaches the target, the RBAC resourceNames and the policies' list, and nothing else", async () => {
    const renamed = await render(userOverlay("team-pull", ["components/fallback", "components/pull-secret-name"]));
    const places = namePlaces(renamed);
    expect(places.target.name).toBe("team-pull");
    expect(places.rule).toEqual({ apiGroups: [""], resources: ["secrets"], resourceNames: ["team-pull"], verbs: ["get", "list", "patch"] });
    expect(places.secrets.expression).toBe("['team-pull']");
    expect(places.serviceAccounts.expression).toBe("['team-pull']");
    // Everything else is the default rendering: put the default name back and compare.
    const back = namePlaces(renamed);
    back.target.name = "ecr-pull-secret";
    back.rule.resourceNames = ["ecr-pull-secret"];
    back.secrets.expression = back.serviceAccounts.expression = "['ecr-pull-secret']";
    expect(byId(renamed)).toEqual(byId(await render(join(K8S, "fallback"))));
  });

  it("the optional components add the Argo CD repository (in argocd) and the diagnosis role", async () => {
    const docs = await render(userOverlay("ecr-pull-secret", ["components/argocd", "components/diagnosis-secrets", "components/pull-secret-name"]));
    const argocd = find(docs, "ExternalSecret", "ecr-helm-oci");
    expect(argocd.metadata.namespace).toBe("argocd");
    const shipped = docsOf("components/argocd/argocd-ecr-helm-repo.yaml")[0];
    expect({ ...argocd, metadata: { ...argocd.metadata, namespace: undefined } }).toEqual({
      ...shipped,
      metadata: { ...shipped.metadata, namespace: undefined },
    });
    expect(byId(docs.filter((d) => d.kind !== "ExternalSecret"))).toEqual(byId(docsOf(...BASE, "components/diagnosis-secrets/diagnosis-secrets-rbac.yaml")));
  });

  it("an overlay without the name refuses to render (no silent default)", async () => {
    const dir = userOverlay("x", ["components/pull-secret-name"]);
    rmSync(join(dir, "pull-secret-name.yaml"));
    writeFileSync(join(dir, "kustomization.yaml"), readFileSync(join(dir, "kustomization.yaml"), "utf8").replace("  - pull-secret-name.yaml\n", ""));
    await expect(render(dir)).rejects.toThrow(/ecr-token-rotator-pull-secret-name/);
  });
});
