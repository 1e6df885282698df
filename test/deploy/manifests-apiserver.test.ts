/**
 * infra/k8s manifests against the real kube-apiserver of the test bed (ESO's CRDs installed,
 * RBAC on): every manifest is accepted by `kubectl apply --dry-run=server --validate=strict`
 * (schema + unknown-field checks on the server), the API really refuses what the manifests avoid
 * (v1beta1, misspelt fields), and the RBAC group gets exactly the access the fallback needs
 * (least-privilege-bed.test.ts: what the admission policy refuses).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBed, type Bed } from "../bed/index";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { k8sManifestFiles, REPO } from "./support";

const K8S = join(REPO, "infra/k8s");
const NAMESPACE = "my-app";
const files = k8sManifestFiles();

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({ rbacManifests: PRODUCT_MANIFESTS });
  await bed.createNamespace(NAMESPACE, { "ecr-token-rotator/pull-secret": "enabled" });
});
afterAll(async () => {
  await bed?.stop();
});

const dryRun = (yaml: string) => bed.kubectl(["apply", "--dry-run=server", "--validate=strict", "-n", NAMESPACE, "-f", "-"], { input: yaml });

describe("infra/k8s on the real kube-apiserver", () => {
  it("serves ESO's v1 API (the CRDs are installed)", async () => {
    const out = await bed.kubectl(["api-resources", "--api-group=external-secrets.io", "-o", "name"], { check: true });
    expect(out.stdout.split("\n")).toEqual(
      expect.arrayContaining(["externalsecrets.external-secrets.io", "clustersecretstores.external-secrets.io", "clusterexternalsecrets.external-secrets.io"]),
    );
  });

  it.each(files)("accepts %s with kubectl apply --dry-run=server --validate=strict", async (file) => {
    const out = await dryRun(readFileSync(join(K8S, file), "utf8"));
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/\(server dry run\)$/);
  });

  it("refuses what the manifests must avoid: v1beta1 (not served) and misspelt fields", async () => {
    const externalSecret = readFileSync(join(K8S, "external-secret.yaml"), "utf8");
    const v1beta1 = await dryRun(externalSecret.replace("apiVersion: external-secrets.io/v1\n", "apiVersion: external-secrets.io/v1beta1\n"));
    expect(v1beta1.code).not.toBe(0);
    expect(v1beta1.stderr).toMatch(
      /no matches for kind "ExternalSecret" in version "external-secrets.io\/v1beta1"|the server could not find the requested resource/,
    );

    const typo = await dryRun(externalSecret.replace("  refreshInterval: 1h\n", "  refreshIntervall: 1h\n"));
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/unknown field "spec.refreshIntervall"/);
  });

  it("gives the group ecr-token-rotator exactly the fallback's access (rbac.yaml as applied)", async () => {
    const can = async (verb: string, resource: string, namespace = NAMESPACE) => {
      const out = await bed.kubectl(["auth", "can-i", verb, resource, "-n", namespace, "--as=rotator-probe", "--as-group=ecr-token-rotator"]);
      return out.stdout.trim();
    };
    for (const [verb, resource] of [
      ["create", "secrets"],
      ["get", "secrets/ecr-pull-secret"],
      ["list", "secrets/ecr-pull-secret"],
      ["patch", "secrets/ecr-pull-secret"],
      ["list", "namespaces"],
      ["patch", "serviceaccounts"],
      ["list", "externalsecrets.external-secrets.io"],
      ["patch", "externalsecrets.external-secrets.io"],
      ["patch", "clusterexternalsecrets.external-secrets.io"],
      ["list", "pods"],
      ["list", "events"],
      // The doctor's reads of the product's admission policies and bindings, by name.
      ["get", "validatingadmissionpolicies.admissionregistration.k8s.io/ecr-token-rotator-secrets"],
      ["get", "validatingadmissionpolicybindings.admissionregistration.k8s.io/ecr-token-rotator-events"],
    ] as const) {
      expect(await can(verb, resource), `${verb} ${resource}`).toBe("yes");
    }
    for (const [verb, resource] of [
      // Any other Secret (rbac.yaml names the pull secret; create is narrowed by admission-policy.yaml).
      ["get", "secrets"],
      ["list", "secrets"],
      ["get", "secrets/db-password"],
      ["patch", "secrets/db-password"],
      ["update", "secrets/ecr-pull-secret"],
      ["delete", "secrets/ecr-pull-secret"],
      ["update", "secrets"],
      ["delete", "secrets"],
      ["watch", "secrets"],
      ["get", "namespaces"],
      ["delete", "namespaces"],
      ["create", "serviceaccounts"],
      ["get", "externalsecrets.external-secrets.io"],
      ["delete", "externalsecrets.external-secrets.io"],
      ["get", "clusterexternalsecrets.external-secrets.io"],
      ["delete", "clusterexternalsecrets.external-secrets.io"],
      ["get", "pods"],
      ["get", "configmaps"],
      ["create", "pods"],
      ["get", "clustersecretstores.external-secrets.io"],
      ["create", "clusterrolebindings.rbac.authorization.k8s.io"],
      // No other policy readable, none changeable.
      ["get", "validatingadmissionpolicies.admissionregistration.k8s.io"],
      ["list", "validatingadmissionpolicies.admissionregistration.k8s.io"],
      ["get", "validatingadmissionpolicies.admissionregistration.k8s.io/someone-elses-policy"],
      ["patch", "validatingadmissionpolicies.admissionregistration.k8s.io/ecr-token-rotator-secrets"],
      ["delete", "validatingadmissionpolicybindings.admissionregistration.k8s.io/ecr-token-rotator-secrets"],
      ["create", "validatingadmissionpolicybindings.admissionregistration.k8s.io"],
    ] as const) {
      expect(await can(verb, resource), `${verb} ${resource}`).toBe("no");
    }
    // Without the group (an identity the access entry does not map), nothing.
    const stranger = await bed.kubectl(["auth", "can-i", "get", "secrets", "-n", NAMESPACE, "--as=someone-else"]);
    expect(stranger.stdout.trim()).toBe("no");
  });
});
