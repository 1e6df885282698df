/**
 * The diagnosis on what the real kubelet and containerd write: every cause the seeds list is
 * created for real on the bed's node (the pod really fails to pull from the registry under the
 * ECR host name), then `diagnose` (the CLI, with the product's identity and RBAC) classifies it
 * from the real waiting messages and Events. The texts the kubelet wrote are printed
 * (`node: captured …`), the source of test/fixtures/kubelet-pull-errors.captured.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bed } from "../bed/index";
import { ecrPassword } from "../bed/kubelet";
import { startNode, type BedNode } from "../bed/node";
import { BED_ECR_HOST, startEsoWorld, type EsoWorld } from "../support/eso-chain";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../bed/index";
import { DIAGNOSIS_SECRETS_RBAC } from "../bed/product-manifests";
import { apply, createNamespace, deployment, holdNodeTestLock, NODE_SUPPORT, podEvents, waitPods } from "./node-support";

let world: EsoWorld;
let bed: Bed;
let node: BedNode;
let releaseLock: (() => void) | undefined;

const dockerconfig = (host: string, password: string) =>
  JSON.stringify({ auths: { [host]: { username: "AWS", password, auth: Buffer.from(`AWS:${password}`).toString("base64") } } });
const pullSecret = (ns: string, name: string, content: string, type = "kubernetes.io/dockerconfigjson") => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: ns },
  type,
  data: { ".dockerconfigjson": Buffer.from(content).toString("base64") },
});

interface Case {
  ns: string;
  /** Objects to create before the pod (Secrets, ServiceAccounts). */
  setup: (n: BedNode) => unknown[];
  pullSecret?: string;
  serviceAccount?: string;
  /** Image reference (default: the node's image). */
  image?: (n: BedNode) => string;
  expected: string;
}

const CASES: Case[] = [
  // No pull secret anywhere, default ServiceAccount: the product reads it as the default-SA trap.
  { ns: "real-no-secret", setup: () => [], expected: "default-service-account-trap" },
  {
    ns: "real-named-sa",
    setup: () => [{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "builder", namespace: "real-named-sa" } }],
    serviceAccount: "builder",
    expected: "no-image-pull-secrets",
  },
  {
    ns: "real-trap",
    setup: (n) => [
      pullSecret("real-trap", "team-pull-secret", n.dockerconfigjson()),
      {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "payment-api-sa", namespace: "real-trap" },
        imagePullSecrets: [{ name: "team-pull-secret" }],
      },
    ],
    expected: "default-service-account-trap",
  },
  { ns: "real-missing", setup: () => [], pullSecret: "registry-creds", expected: "pull-secret-not-found" },
  {
    ns: "real-elsewhere",
    setup: (n) => [pullSecret("real-other", "registry-creds", n.dockerconfigjson())],
    pullSecret: "registry-creds",
    expected: "pull-secret-not-found",
  },
  {
    ns: "real-opaque",
    setup: (n) => [pullSecret("real-opaque", "legacy-creds", n.dockerconfigjson(), "Opaque")],
    pullSecret: "legacy-creds",
    expected: "wrong-secret-type",
  },
  {
    ns: "real-wrong-password",
    setup: () => [pullSecret("real-wrong-password", "ecr-pull-secret", dockerconfig(BED_ECR_HOST, "not-the-current-token"))],
    pullSecret: "ecr-pull-secret",
    // The registry's 401 with a pull secret that looks right: its password is wrong or stale.
    expected: "registry-refused-credential",
  },
  {
    ns: "real-host",
    setup: (n) => [pullSecret("real-host", "ghcr-creds", dockerconfig("ghcr.io", n.token()))],
    pullSecret: "ghcr-creds",
    expected: "registry-host-mismatch",
  },
  {
    ns: "real-expired",
    // Expired as of the clock the product is run with (--now 2014-12-31T12:30:00Z).
    setup: () => [pullSecret("real-expired", "old-ecr", dockerconfig(BED_ECR_HOST, ecrPassword(new Date("2014-12-31T10:00:00Z"), "EXPIRED")))],
    pullSecret: "old-ecr",
    expected: "token-expired",
  },
  {
    ns: "real-region",
    setup: (n) => [pullSecret("real-region", "euw1-creds", dockerconfig("123456789012.dkr.ecr.eu-west-1.amazonaws.com", n.token()))],
    pullSecret: "euw1-creds",
    expected: "wrong-region",
  },
  {
    ns: "real-no-tag",
    setup: (n) => [pullSecret("real-no-tag", "ecr-pull-secret", n.dockerconfigjson())],
    pullSecret: "ecr-pull-secret",
    image: (n) => n.image.replace(/:[^:]+$/, ":9.9.9"),
    expected: "not-a-credential-problem",
  },
  {
    ns: "real-no-repo",
    setup: (n) => [pullSecret("real-no-repo", "ecr-pull-secret", n.dockerconfigjson())],
    pullSecret: "ecr-pull-secret",
    image: () => `${BED_ECR_HOST}/team/gone:1.0`,
    expected: "not-a-credential-problem",
  },
];

describe.skipIf(!NODE_SUPPORT.ok)("diagnose on what the real kubelet and containerd wrote", { timeout: 600_000 }, () => {
  beforeAll(async () => {
    releaseLock = await holdNodeTestLock();
    world = await startEsoWorld({ bed: { nodeAuth: true } });
    bed = world.bed;
    // The diagnosis reads the Secrets the pods reference: the optional diagnosis role is bound
    // (test/integration/diagnose-bed.test.ts shows the diagnosis without it).
    await bed.kubectl(["apply", "-f", "-"], { input: readFileSync(join(ROOT, DIAGNOSIS_SECRETS_RBAC), "utf8"), check: true });
    try {
      node = await startNode(bed, { token: await world.storedToken() });
    } catch (error) {
      await world.stop();
      throw error;
    }
  }, 1_600_000);

  afterAll(async () => {
    try {
      await node?.stop();
      await world?.stop();
    } finally {
      releaseLock?.();
    }
  });

  it("each cause, created for real, is classified from the real messages", async () => {
    await createNamespace(bed, "real-other");
    for (const c of CASES) {
      await createNamespace(bed, c.ns);
      for (const obj of c.setup(node)) await apply(bed, obj);
      await apply(bed, deployment(c.ns, "app", c.image?.(node) ?? node.image, { pullSecret: c.pullSecret, serviceAccount: c.serviceAccount }));
    }
    const captured: Record<string, { waiting: string[]; events: Array<[string, string]> }> = {};
    for (const c of CASES) {
      const [pod] = await waitPods(bed, { ns: c.ns, count: 1, what: "the pod in ImagePullBackOff", timeoutMs: 180_000 }, (p) => p.state === "ImagePullBackOff");
      const events = (await podEvents(bed, c.ns)).filter((e) => e.pod === pod!.name && e.reason !== "Scheduled");
      captured[c.ns] = { waiting: [pod!.message], events: events.map((e) => [e.reason, e.message]) };
    }
    process.stdout.write(`node: captured ${JSON.stringify(captured, null, 1)}\n`);

    const report = await world.cli(["diagnose"]);
    const stuck = report.kubernetes.clusters[0].diagnosis.stuck as Array<{ namespace: string; causes: Array<{ code: string; message: string }> }>;
    const got = Object.fromEntries(CASES.map((c) => [c.ns, stuck.find((s) => s.namespace === c.ns)?.causes.map((x) => x.code)]));
    process.stdout.write(
      `node: diagnosed ${JSON.stringify(
        stuck.map((s) => [s.namespace, s.causes.map((x) => `${x.code}: ${x.message}`)]),
        null,
        1,
      )}\n`,
    );
    expect(got).toEqual(Object.fromEntries(CASES.map((c) => [c.ns, [c.expected]])));
  });
});
