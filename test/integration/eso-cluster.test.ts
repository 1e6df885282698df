/**
 * The real External Secrets Operator controller (startBed({ eso })) with the repo's manifests:
 *   - infra/k8s/base/cluster-external-secret.yaml, unchanged: every labelled namespace gets the pull
 *     Secret, including one labelled after the first sync and one created later (a heal's
 *     re-sync of the children: written, skipped — see the comment on that test);
 *   - the freshness contract of infra/k8s/external-secret.yaml: a Secrets Manager update that
 *     is not re-synced reaches the pull Secret only at ESO's next periodic refresh, so
 *     `refreshInterval` bounds how old its token can be (README "Freshness budget": rotation
 *     interval + refreshInterval + propagation < 12 h). The test shortens the interval from 1h
 *     to a few seconds — the only change to the manifest.
 * The product runs as its CLI bundle; ECR issues a new token through a proxy in front of moto.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type Bed } from "../bed/index";
import { getJson, getSecret, passwordFor, pollFor, secretState, startEsoWorld, watch, esoLogTail, type EsoWorld } from "../support/eso-chain";

const LABEL = "ecr-token-rotator/pull-secret";
let world: EsoWorld;
let bed: Bed;

beforeAll(async () => {
  world = await startEsoWorld();
  bed = world.bed;
});

afterAll(async () => {
  await world?.stop();
});

const tokenIn = (s: { data: Record<string, string> }) => passwordFor(s.data[".dockerconfigjson"]);

describe("ClusterExternalSecret (infra/k8s/base/cluster-external-secret.yaml) on the real controller", () => {
  it("every labelled namespace gets the pull Secret, also one labelled after the first sync and one created later", async () => {
    await bed.createNamespace("shop", { [LABEL]: "enabled" });
    await bed.createNamespace("billing", { [LABEL]: "enabled" });
    await bed.createNamespace("late");
    await bed.createNamespace("other", { [LABEL]: "disabled" });
    await world.applyFile("infra/k8s/base/cluster-external-secret.yaml");
    const token = await world.storedToken();

    const first = await Promise.all(["shop", "billing"].map((ns) => world.esoSecret(ns, "ecr-pull-secret", (s) => tokenIn(s) === token)));
    for (const s of first) {
      expect(s.type).toBe("kubernetes.io/dockerconfigjson");
      expect(s.ownerKinds).toEqual(["ExternalSecret"]);
    }
    const ces = await pollFor(
      "the ClusterExternalSecret to report its namespaces",
      async () => {
        const obj = await getJson(bed, ["get", "clusterexternalsecret", "ecr-pull-secret"]);
        return (obj?.status?.provisionedNamespaces ?? []).length === 2 ? obj : undefined;
      },
      30_000,
      200,
      () => esoLogTail(bed),
    );
    expect([...ces.status.provisionedNamespaces].sort()).toEqual(["billing", "shop"]);
    // The children carry the label ESO_RESYNC selects (externalSecretMetadata).
    const child = await getJson(bed, ["-n", "shop", "get", "externalsecret", "ecr-pull-secret"]);
    expect(child.metadata.labels).toMatchObject({ "ecr-token-rotator/resync": "true" });
    expect(child.metadata.ownerReferences.map((o: { kind: string }) => o.kind)).toEqual(["ClusterExternalSecret"]);

    // Labelled after the first sync, and created with the label later: both served.
    await bed.kubectl(["label", "namespace", "late", `${LABEL}=enabled`], { check: true });
    await bed.createNamespace("newcomer", { [LABEL]: "enabled" });
    for (const ns of ["late", "newcomer"]) expect(tokenIn(await world.esoSecret(ns, "ecr-pull-secret", (s) => tokenIn(s) === token))).toBe(token);
    // Not selected: nothing there.
    expect(await getSecret(bed, "other", "ecr-pull-secret")).toBeUndefined();
    expect(await getJson(bed, ["-n", "other", "get", "externalsecret", "ecr-pull-secret"])).toBeUndefined();
  });

  // The ClusterExternalSecret controller owns its children and, on a change, resets their
  // annotations to spec.externalSecretMetadata (ESO v0.16.2, clusterexternalsecret_controller.go
  // createOrUpdateExternalSecret): a force-sync annotation set on a child is often lost (by hand
  // on this bed, 4 children annotated at once missed 1-2 re-syncs in each of 4 rounds). The heal
  // therefore patches the parent's spec.externalSecretMetadata.annotations (force-sync=<time>),
  // which the controller copies to every child (an annotation on the parent itself does nothing).
  it("a heal (ESO_RESYNC) re-syncs every child of the ClusterExternalSecret, each Secret in place", async () => {
    const served = ["billing", "late", "newcomer", "shop"];
    const before = new Map(await Promise.all(served.map(async (ns) => [ns, await world.esoSecret(ns, "ecr-pull-secret")] as const)));
    const newToken = `ces-${randomBytes(12).toString("hex")}`;
    world.ecr.issue(newToken);
    expect(await world.cli(["rotate", "--force"])).toMatchObject({ ok: true, registries: [{ outcome: "updated" }] });
    const healed = await world.cli(["heal", "--cluster", bed.clusterName, ...served.flatMap((ns) => ["--namespace", ns])], {
      ESO_RESYNC: "ecr-token-rotator/resync=true",
      PULL_SECRET_NAME: "ecr-fallback-pull-secret",
    });
    expect(healed.ok).toBe(true);
    for (const ns of served) {
      const after = await world.esoSecret(ns, "ecr-pull-secret", (s) => tokenIn(s) === newToken, 15_000);
      expect(after.uid, ns).toBe(before.get(ns)!.uid);
    }
  });

  // The contract for ESO-owned pull Secrets: their owner gets force-sync whatever ESO_RESYNC
  // says — for a ClusterExternalSecret's child, through the parent (the heal looks the owner up).
  it("a heal without ESO_RESYNC re-syncs the pull Secrets' owners through their ClusterExternalSecret", async () => {
    const served = ["billing", "late", "newcomer", "shop"];
    const before = new Map(await Promise.all(served.map(async (ns) => [ns, await world.esoSecret(ns, "ecr-pull-secret")] as const)));
    // A marker the previous heal did not leave: the parent's force-sync must come from this heal.
    await bed.kubectl(
      [
        "patch",
        "clusterexternalsecret",
        "ecr-pull-secret",
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { externalSecretMetadata: { annotations: { "force-sync": "0" } } } }),
      ],
      { check: true },
    );
    const newToken = `ces-off-${randomBytes(12).toString("hex")}`;
    world.ecr.issue(newToken);
    expect(await world.cli(["rotate", "--force"])).toMatchObject({ ok: true, registries: [{ outcome: "updated" }] });
    const healed = await world.cli(["heal", "--cluster", bed.clusterName, ...served.flatMap((ns) => ["--namespace", ns])]);
    expect(healed.ok).toBe(true);
    const cluster = healed.kubernetes.clusters[0];
    expect(cluster.namespaces.map((n: { outcome: string }) => n.outcome).sort()).toEqual(served.map(() => "eso-managed"));
    expect(cluster.externalSecrets.clusterExternalSecrets).toEqual(["ecr-pull-secret"]);
    const ces = await getJson(bed, ["get", "clusterexternalsecret", "ecr-pull-secret"]);
    expect(Number(ces.spec.externalSecretMetadata.annotations["force-sync"])).toBeGreaterThan(0);
    for (const ns of served) {
      const after = await world.esoSecret(ns, "ecr-pull-secret", (s) => tokenIn(s) === newToken, 15_000);
      expect(after.uid, ns).toBe(before.get(ns)!.uid);
    }
  });
});

describe("freshness: refreshInterval of infra/k8s/external-secret.yaml bounds the pull Secret's age", () => {
  const INTERVAL_S = 10;
  /** Scheduling and propagation allowance on a loaded 2-core machine (refreshTime has 1 s resolution). */
  const SLACK_S = 3;

  it("an update not re-synced stays invisible until ESO's next periodic refresh, and arrives with it", async () => {
    const ns = "fresh";
    await bed.createNamespace(ns);
    const manifest = readFileSync(join(ROOT, "infra/k8s/external-secret.yaml"), "utf8");
    expect(manifest).toMatch(/^ {2}refreshInterval: 1h$/m);
    const short = manifest.replace(/^ {2}refreshInterval: 1h$/m, `  refreshInterval: ${INTERVAL_S}s`);
    await bed.kubectl(["-n", ns, "apply", "-f", "-"], { input: short, check: true });
    const oldToken = await world.storedToken();
    await world.esoSecret(ns, "ecr-pull-secret", (s) => tokenIn(s) === oldToken);

    const esWatch = await watch(bed, `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`, "metadata.name=ecr-pull-secret");
    const secretWatch = await watch(bed, `/api/v1/namespaces/${ns}/secrets`, "metadata.name=ecr-pull-secret");
    try {
      const refreshTimes = () => [
        ...new Set(esWatch.events.map((e) => e.object.status?.refreshTime as string | undefined).filter((t): t is string => Boolean(t))),
      ];
      const initial = refreshTimes().at(-1);
      // Start right after a periodic refresh, so the next one is a whole interval away.
      const refreshed = await esWatch.until(
        (e) => Boolean(e.object.status?.refreshTime) && e.object.status.refreshTime !== initial,
        (INTERVAL_S + 10) * 1000,
        "a periodic refresh",
      );
      const lastRefresh = Date.parse(refreshed.object.status.refreshTime);

      const newToken = `fresh-${randomBytes(12).toString("hex")}`;
      world.ecr.issue(newToken);
      expect(await world.cli(["rotate", "--force"])).toMatchObject({ ok: true, registries: [{ outcome: "updated" }] });
      const written = performance.now();
      expect(await world.storedToken()).toBe(newToken);
      // Secrets Manager has the new token; nobody asked ESO to re-sync: the Secret keeps the old one.
      const stale = await getSecret(bed, ns, "ecr-pull-secret");
      expect(tokenIn(stale!)).toBe(oldToken);

      // ...until the next periodic refresh, which brings it.
      const updated = await secretWatch.until(
        (e) => tokenIn(secretState(e.object)) === newToken,
        (INTERVAL_S + 15) * 1000,
        "the periodic refresh to bring the new token",
      );
      const esAt = await esWatch.until(
        (e) => Boolean(e.object.status?.refreshTime) && Date.parse(e.object.status.refreshTime) > lastRefresh,
        10_000,
        "the refresh that brought it",
      );
      const nextRefresh = Date.parse(esAt.object.status.refreshTime);
      // The refresh that carried it is the periodic one: not before one interval after the
      // previous refresh (so not a reaction to the write; -1 s for refreshTime's resolution)...
      expect((nextRefresh - lastRefresh) / 1000).toBeGreaterThanOrEqual(INTERVAL_S - 1);
      // ...and not much after it: the interval is what bounds the Secret's lag behind Secrets Manager.
      expect((nextRefresh - lastRefresh) / 1000).toBeLessThanOrEqual(INTERVAL_S + SLACK_S);
      expect((updated.at - written) / 1000).toBeLessThanOrEqual(INTERVAL_S + SLACK_S);
      expect(secretWatch.events.filter((e) => tokenIn(secretState(e.object)) === newToken)[0]!.object.metadata.uid).toBe(stale!.uid);
    } finally {
      esWatch.close();
      secretWatch.close();
    }
  }, 120_000);
});
