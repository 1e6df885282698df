/**
 * From a rotation to a pull that works, on the real External Secrets Operator controller
 * (startBed({ eso }), built by scripts/build-eso.sh): the product (its CLI bundle) writes the ECR
 * token to Secrets Manager (moto); ESO reads it through the repo's own manifests and writes the
 * pull Secret into the real kube-apiserver; skopeo authenticates against a Debian docker-registry
 * with exactly what ESO wrote. The registry accepts only the token ECR issued last, so a stale
 * Secret is refused. State is read independently (kubectl as admin, a watch on the API server).
 *
 * One bed + ESO for the file. Namespaces per test; Secrets Manager holds one secret
 * (production/ecr/credentials) whose token the rotation test changes, so later tests compare
 * with what is stored now rather than with a fixed value.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bed } from "../bed/index";
import {
  BED_ECR_HOST,
  forLocalRegistry,
  getJson,
  getSecret,
  MOTO_ECR_TOKEN,
  passwordFor,
  readyCondition,
  secretState,
  SM_SECRET,
  startEsoWorld,
  watch,
  type EsoWorld,
} from "../support/eso-chain";
import { renderEsoTemplate, ensureEsoTemplateBinary, SEED_DOCKERCONFIGJSON_TEMPLATE } from "../support/eso-template";
import { startRegistry, type Registry } from "../support/registry";

let world: EsoWorld;
let bed: Bed;
let registry: Registry;
/** Every token ECR issued in this file (to search the product's output for). */
const issued: string[] = [];

async function skopeoWith(dockerconfigjson: string) {
  return registry.skopeoInspect(registry.writeAuthFile(forLocalRegistry(dockerconfigjson, registry.host)));
}

/**
 * An ECR-shaped token: like the password part of a real ECR token, base64 of a JSON envelope
 * (~1.5 KB), ending in "=" padding. (Base64 of ASCII JSON has no "+" or "/": those need bytes
 * whose low six bits are all ones, which the envelope's characters never have.)
 */
function ecrShapedToken(): string {
  for (let i = 0; i < 20; i++) {
    const envelope = {
      payload: randomBytes(700 + i).toString("base64"),
      datakey: randomBytes(200).toString("base64"),
      version: "2",
      type: "DATA_KEY",
      expiration: Date.UTC(2015, 0, 1) / 1000,
    };
    const token = Buffer.from(JSON.stringify(envelope)).toString("base64");
    if (token.endsWith("=")) return token;
  }
  throw new Error("no padded token in 20 tries");
}

beforeAll(async () => {
  [world, registry] = await Promise.all([
    startEsoWorld(),
    // The registry accepts exactly the token moto's ECR issues (user AWS), as ECR would.
    startRegistry({ users: [{ username: "AWS", password: MOTO_ECR_TOKEN }] }),
    ensureEsoTemplateBinary(),
  ]);
  bed = world.bed;
});

afterAll(async () => {
  await Promise.allSettled([world?.stop(), registry?.stop()]);
});

describe("the real External Secrets Operator turns what the product wrote into a working pull Secret", () => {
  it("the seed's manifests unchanged (cluster-secret-store.yaml + external-secret.yaml): skopeo authenticates with the Secret ESO wrote", async () => {
    await bed.createNamespace("team-seed");
    await world.applyFile("infra/k8s/external-secret.yaml", "team-seed");
    const secret = await world.esoSecret("team-seed", "ecr-pull-secret");
    expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
    // Written by ESO: owned by the ExternalSecret, labelled as ESO labels what it manages.
    expect(secret.ownerKinds).toEqual(["ExternalSecret"]);
    expect(secret.labels).toMatchObject({ "reconcile.external-secrets.io/managed": "true" });
    expect(secret.labels["app.kubernetes.io/managed-by"]).toBeUndefined();
    const config = JSON.parse(secret.data[".dockerconfigjson"]!) as { auths: Record<string, { username: string; password: string; auth: string }> };
    expect(Object.keys(config.auths)).toEqual([BED_ECR_HOST]);
    const entry = config.auths[BED_ECR_HOST]!;
    expect(entry).toEqual({ username: "AWS", password: MOTO_ECR_TOKEN, auth: Buffer.from(`AWS:${MOTO_ECR_TOKEN}`).toString("base64") });

    expect(await skopeoWith(secret.data[".dockerconfigjson"]!)).toMatchObject({ ok: true });
    expect(await registry.probeBasic(entry.username, entry.password)).toBe(200);
    const es = await getJson(bed, ["-n", "team-seed", "get", "externalsecret", "ecr-pull-secret"]);
    expect(readyCondition(es)).toMatchObject({ status: "True", reason: "SecretSynced" });
  });

  it("the variant without a template (property dockerconfigjson), through a store with static keys (auth.secretRef)", async () => {
    await bed.createNamespace("team-plain");
    const keys = { "access-key": "AKIAESOSTATICKEY0001", "secret-access-key": randomBytes(12).toString("hex") };
    const manifests = [
      { apiVersion: "v1", kind: "Secret", metadata: { name: "aws-keys", namespace: "external-secrets" }, stringData: keys },
      {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: { name: "aws-secrets-manager-keys" },
        spec: {
          provider: {
            aws: {
              service: "SecretsManager",
              region: "us-east-1",
              auth: {
                secretRef: {
                  accessKeyIDSecretRef: { name: "aws-keys", namespace: "external-secrets", key: "access-key" },
                  secretAccessKeySecretRef: { name: "aws-keys", namespace: "external-secrets", key: "secret-access-key" },
                },
              },
            },
          },
        },
      },
      {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: "ecr-pull-secret", namespace: "team-plain" },
        spec: {
          refreshInterval: "1h",
          secretStoreRef: { kind: "ClusterSecretStore", name: "aws-secrets-manager-keys" },
          // No data template: only the type, so the kubelet reads it as a pull secret.
          target: { name: "ecr-pull-secret", template: { type: "kubernetes.io/dockerconfigjson" } },
          data: [{ secretKey: ".dockerconfigjson", remoteRef: { key: SM_SECRET, property: "dockerconfigjson" } }],
        },
      },
    ];
    await bed.kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }), check: true });
    const secret = await world.esoSecret("team-plain", "ecr-pull-secret");
    expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
    expect(Object.keys(secret.data)).toEqual([".dockerconfigjson"]);
    expect(passwordFor(secret.data[".dockerconfigjson"])).toBe(await world.storedToken());
    expect(await skopeoWith(secret.data[".dockerconfigjson"]!)).toMatchObject({ ok: true });
  });

  it("a rotation reaches the pods' Secret: heal's ESO re-sync → ESO updates it in place (same UID); the new token works, the old one is refused", async () => {
    const ns = "team-rotation";
    await bed.createNamespace(ns);
    await world.applyFile("infra/k8s/external-secret.yaml", ns);
    const oldToken = await world.storedToken();
    const before = await world.esoSecret(ns, "ecr-pull-secret", (s) => passwordFor(s.data[".dockerconfigjson"]) === oldToken);
    expect(await skopeoWith(before.data[".dockerconfigjson"]!)).toMatchObject({ ok: true });
    const esBefore = await getJson(bed, ["-n", ns, "get", "externalsecret", "ecr-pull-secret"]);

    // ECR issues a new token; the registry accepts only that one from now on.
    const newToken = `rotated-${randomBytes(12).toString("hex")}`;
    issued.push(newToken);
    world.ecr.issue(newToken);
    await registry.setUsers([{ username: "AWS", password: newToken }]);
    const rotated = await world.cli(["rotate", "--force"]);
    expect(rotated).toMatchObject({ ok: true, registries: [{ outcome: "updated" }] });
    expect(await world.storedToken()).toBe(newToken);

    // Not re-synced yet: ESO's copy is what it was (refreshInterval 1h).
    const stale = await getSecret(bed, ns, "ecr-pull-secret");
    expect(passwordFor(stale!.data[".dockerconfigjson"])).toBe(oldToken);

    const esWatch = await watch(bed, `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`, "metadata.name=ecr-pull-secret");
    const secretWatch = await watch(bed, `/api/v1/namespaces/${ns}/secrets`, "metadata.name=ecr-pull-secret");
    try {
      // The fallback writes its own Secret here (another name: ESO owns ecr-pull-secret).
      const healed = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", ns], {
        ESO_RESYNC: "ecr-token-rotator/resync=true",
        PULL_SECRET_NAME: "ecr-fallback-pull-secret",
      });
      expect(healed.ok).toBe(true);
      expect(healed.kubernetes.clusters[0].externalSecrets).toEqual({ resynced: [`${ns}/ecr-pull-secret`], failed: [] });

      const annotated = await esWatch.until(
        (e) => e.object.metadata.annotations?.["force-sync"] !== esBefore.metadata.annotations?.["force-sync"],
        10_000,
        "the heal's force-sync annotation",
      );
      const updated = await secretWatch.until(
        (e) => passwordFor(secretState(e.object).data[".dockerconfigjson"]) === newToken,
        30_000,
        "ESO to write the new token",
      );
      expect(updated.at).toBeGreaterThanOrEqual(annotated.at);
      const after = secretState(updated.object);
      // In place: same object (kubelets key cached pulls by the Secret's UID), never deleted.
      expect(after.uid).toBe(before.uid);
      expect(secretWatch.events.map((e) => e.type)).not.toContain("DELETED");
      expect(after.type).toBe("kubernetes.io/dockerconfigjson");

      expect(await skopeoWith(after.data[".dockerconfigjson"]!)).toMatchObject({ ok: true });
      const refused = await skopeoWith(before.data[".dockerconfigjson"]!);
      expect(refused.ok).toBe(false);
      expect(refused.stderr).toMatch(/unauthorized|authentication required/i);
    } finally {
      esWatch.close();
      secretWatch.close();
    }
  });

  // Coexistence with the fallback: in a namespace where ESO owns the pull Secret, a heal does
  // not write it and does not fail — it reports the namespace `eso-managed` and forces ESO's
  // re-sync of the owning ExternalSecret; the two writers never flip-flop.
  it("coexistence: a heal leaves ESO's Secret to ESO (eso-managed, not failed), re-syncs it, and a second heal writes nothing", async () => {
    const ns = "team-eso";
    await bed.createNamespace(ns);
    await world.applyFile("infra/k8s/external-secret.yaml", ns);
    const before = await world.esoSecret(ns, "ecr-pull-secret");
    const newToken = `coexist-${randomBytes(12).toString("hex")}`;
    issued.push(newToken);
    world.ecr.issue(newToken);
    await registry.setUsers([{ username: "AWS", password: newToken }]);

    const secretWatch = await watch(bed, `/api/v1/namespaces/${ns}/secrets`, "metadata.name=ecr-pull-secret");
    try {
      bed.proxy.reset();
      // Same Secret name as ESO's target: the default PULL_SECRET_NAME.
      const healed = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", ns, "--force"], { ESO_RESYNC: "ecr-token-rotator/resync=true" });
      expect(healed.ok).toBe(true);
      expect(healed.kubernetes.clusters[0].namespaces).toEqual([expect.objectContaining({ namespace: ns, outcome: "eso-managed" })]);
      expect(healed.kubernetes.clusters[0].externalSecrets.resynced).toEqual([`${ns}/ecr-pull-secret`]);
      // The product wrote no Secret (requests counted at the proxy it goes through).
      expect(
        bed.proxy.count({ method: "PATCH", path: "/api/v1/namespaces/*/secrets/*" }) +
          bed.proxy.count({ method: "PUT", path: "/api/v1/namespaces/*/secrets/*" }) +
          bed.proxy.count({ method: "POST", path: "/api/v1/namespaces/*/secrets" }),
      ).toBe(0);
      const updated = await secretWatch.until(
        (e) => passwordFor(secretState(e.object).data[".dockerconfigjson"]) === newToken,
        30_000,
        "ESO to write the new token",
      );
      const after = secretState(updated.object);
      expect(after.uid).toBe(before.uid);
      expect(after.ownerKinds).toEqual(["ExternalSecret"]);
      expect(after.labels["app.kubernetes.io/managed-by"]).toBeUndefined();
      expect(await skopeoWith(after.data[".dockerconfigjson"]!)).toMatchObject({ ok: true });

      // No flip-flop: once ESO has synced, a second heal makes zero Secret writes.
      bed.proxy.reset();
      const again = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", ns], { ESO_RESYNC: "ecr-token-rotator/resync=true" });
      expect(again.ok).toBe(true);
      expect(
        bed.proxy.count({ method: "PATCH", path: "/api/v1/namespaces/*/secrets/*" }) +
          bed.proxy.count({ method: "PUT", path: "/api/v1/namespaces/*/secrets/*" }) +
          bed.proxy.count({ method: "POST", path: "/api/v1/namespaces/*/secrets" }),
      ).toBe(0);
      const settled = await getSecret(bed, ns, "ecr-pull-secret");
      expect(passwordFor(settled!.data[".dockerconfigjson"])).toBe(newToken);
      expect(settled!.uid).toBe(before.uid);
    } finally {
      secretWatch.close();
    }
  });

  it("Argo CD: infra/k8s/components/argocd/argocd-ecr-helm-repo.yaml renders a Helm OCI repository Secret with the current token", async () => {
    await bed.createNamespace("argocd");
    await world.applyFile("infra/k8s/components/argocd/argocd-ecr-helm-repo.yaml", "argocd");
    const current = await world.storedToken();
    const secret = await world.esoSecret("argocd", "ecr-helm-oci", (s) => s.data.password === current);
    expect(secret.labels).toMatchObject({ "argocd.argoproj.io/secret-type": "repository", "reconcile.external-secrets.io/managed": "true" });
    expect(secret.type).toBe("Opaque");
    expect(secret.data).toEqual({ name: "ecr", type: "helm", enableOCI: "true", url: BED_ECR_HOST, username: "AWS", password: current });
    // The credentials Argo CD would send (Basic auth, as a Helm OCI client does) are accepted.
    expect(await registry.probeBasic(secret.data.username!, secret.data.password!)).toBe(200);
    expect(await registry.probeBasic(secret.data.username!, "not-the-token")).toBe(401);
  });

  it("the template stand-in (test/support/eso-template) renders byte for byte what the real controller writes, for an ECR-shaped token (~1.5 KB, base64 with padding)", async () => {
    const ns = "team-template";
    await bed.createNamespace(ns);
    await world.applyFile("infra/k8s/external-secret.yaml", ns);
    await world.esoSecret(ns, "ecr-pull-secret");
    const token = ecrShapedToken();
    issued.push(token);
    world.ecr.issue(token);
    expect(await world.cli(["rotate", "--force"])).toMatchObject({ ok: true, registries: [{ outcome: "updated" }] });
    // A re-sync by hand, as ESO's documentation says (any annotation change re-syncs).
    await bed.kubectl(["-n", ns, "annotate", "externalsecret", "ecr-pull-secret", `force-sync=${Date.now()}`, "--overwrite"], { check: true });
    const secret = await world.esoSecret(ns, "ecr-pull-secret", (s) => passwordFor(s.data[".dockerconfigjson"]) === token);
    const standIn = await renderEsoTemplate(SEED_DOCKERCONFIGJSON_TEMPLATE, { registry: BED_ECR_HOST, token });
    expect(secret.data[".dockerconfigjson"]).toBe(standIn);
  });

  it("secrets never leave in the product's output", () => {
    const all = world.outputs.join("\n");
    expect(all.length).toBeGreaterThan(0);
    for (const token of [MOTO_ECR_TOKEN, ...issued]) {
      expect(all).not.toContain(token);
      expect(all).not.toContain(Buffer.from(`AWS:${token}`).toString("base64"));
    }
  });
});
