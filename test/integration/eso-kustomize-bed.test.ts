/**
 * The kustomize rendering of infra/k8s on the bed, as a user installs it: an overlay of the base
 * with the direct fallback, the pull secret's name set once (team-pull), rendered with
 * `kubectl kustomize` and applied with `kubectl apply -f` — the only product manifests on the
 * cluster. The real External Secrets Operator serves a labelled namespace from that rendering
 * (ClusterSecretStore + ClusterExternalSecret, moto as Secrets Manager), and the product's own
 * direct write (heal, as its EKS identity) is admitted for that name only: the name reached the
 * RBAC and the admission policies.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type Bed } from "../bed/index";
import { policiesIn, waitForPolicies } from "../bed/admission";
import { adminClient } from "../bed/kubelet";
import { waitForRight } from "../bed/product-manifests";
import { getSecret, passwordFor, startEsoWorld, type EsoWorld } from "../support/eso-chain";
import { kustomize, writeOverlay } from "../support/kustomize";

const NAME = "team-pull";
const LABEL = "ecr-token-rotator/pull-secret";
let world: EsoWorld;
let bed: Bed;
let overlay: string;

beforeAll(async () => {
  // No product manifest at start: the rendering below is all the cluster gets.
  world = await startEsoWorld({ bed: { rbacManifests: [] } });
  bed = world.bed;
  overlay = writeOverlay(NAME, ["components/fallback", "components/pull-secret-name"]);
  const rendered = join(overlay, "rendered.yaml");
  writeFileSync(rendered, await kustomize(overlay));
  await bed.kubectl(["apply", "-f", rendered], { check: true });
  await waitForPolicies(bed.kubectl, ROOT, policiesIn(rendered), true);
  await waitForRight(adminClient(bed), "get", "secrets", true, NAME);
});

afterAll(async () => {
  await world?.stop();
  if (overlay) rmSync(overlay, { recursive: true, force: true });
});

const tokenIn = (s: { data: Record<string, string> }) => passwordFor(s.data[".dockerconfigjson"]);

describe("infra/k8s rendered by kustomize (fallback overlay, name team-pull) on the real ESO", () => {
  it("ESO writes the pull Secret of the set name in a labelled namespace, and none where unlabelled", async () => {
    await bed.createNamespace("shop", { [LABEL]: "enabled" });
    await bed.createNamespace("quiet");
    const token = await world.storedToken();
    const secret = await world.esoSecret("shop", NAME, (s) => tokenIn(s) === token);
    expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
    expect(secret.ownerKinds).toEqual(["ExternalSecret"]);
    expect(await getSecret(bed, "shop", "ecr-pull-secret")).toBeUndefined();
    expect(await getSecret(bed, "quiet", NAME)).toBeUndefined();
  });

  it("the product's direct write is admitted for the set name and refused for the default one", async () => {
    await bed.createNamespace("direct");
    const healed = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", "direct"], { PULL_SECRET_NAME: NAME });
    expect(healed.ok).toBe(true);
    expect(healed.kubernetes.clusters[0].namespaces).toEqual([expect.objectContaining({ namespace: "direct", outcome: "created" })]);
    const written = await getSecret(bed, "direct", NAME);
    expect(written?.type).toBe("kubernetes.io/dockerconfigjson");
    expect(tokenIn(written!)).toBe(await world.storedToken());

    // The shipped default name is no longer the one the RBAC and the policies carry.
    await expect(world.cli(["heal", "--cluster", bed.clusterName, "--namespace", "direct"], { PULL_SECRET_NAME: "ecr-pull-secret" })).rejects.toThrow(
      /forbidden|403/i,
    );
    expect(await getSecret(bed, "direct", "ecr-pull-secret")).toBeUndefined();
  });
});
