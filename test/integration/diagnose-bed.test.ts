/**
 * `diagnose` and heal's trailing diagnosis on the real kube-apiserver, through the CLI, with the
 * product's own EKS token and ONLY the permissions of infra/k8s/rbac.yaml. No kubelet runs in
 * the bed: pods are created as admin and their status (waiting in ImagePullBackOff…) is set
 * through the status subresource; the kubelet's Events are created as admin too.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main";
import type { Report, StuckContainerReport } from "../../src/report/report";
import { startBed, type Bed } from "../bed/index";
import { productEnvForBed } from "../support/bed-env";
import { startMoto, type MotoServer } from "../support/moto";

const ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const EUW1_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const IMAGE = `${ECR_HOST}/team/app:1.0`;
let bed: Bed;
let moto: MotoServer;
let now: string;
const saved = { ...process.env };

/** A real-shaped ECR password (base64 of the DATA_KEY envelope), expired two hours ago. */
const EXPIRED_PASSWORD = Buffer.from(
  JSON.stringify({
    payload: "BEDPAYLOAD-c0ffee-expired",
    datakey: "BEDDATAKEY-1234",
    version: "2",
    type: "DATA_KEY",
    expiration: Math.floor(Date.now() / 1000) - 7200,
  }),
).toString("base64");
const EXPIRED_AUTH = Buffer.from(`AWS:${EXPIRED_PASSWORD}`).toString("base64");

function env(extra: Record<string, string> = {}): Record<string, string> {
  return productEnvForBed(bed, moto, extra);
}

async function cli(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    env: env(extra),
    stdout: (t) => void (stdout += `${t}\n`),
    stderr: (t) => void (stderr += `${t}\n`),
    readStdin: async () => "",
  });
  return { code, stdout, stderr };
}

const dockerConfig = (auths: Record<string, string>) =>
  Buffer.from(
    JSON.stringify({
      auths: Object.fromEntries(
        Object.entries(auths).map(([h, pw]) => [h, { username: "AWS", password: pw, auth: Buffer.from(`AWS:${pw}`).toString("base64") }]),
      ),
    }),
  ).toString("base64");

interface PodSpec {
  ns: string;
  name: string;
  image?: string;
  pullSecrets?: string[];
  reason?: string;
  message?: string;
  event?: string;
}

const PODS: PodSpec[] = [
  { ns: "diag-trap", name: "trap" },
  { ns: "diag-missing", name: "missing", pullSecrets: ["registry-creds"] },
  { ns: "diag-type", name: "opaque", pullSecrets: ["legacy-creds"] },
  { ns: "diag-host", name: "ghcr-only", pullSecrets: ["ghcr-creds"] },
  { ns: "diag-host", name: "other-region", pullSecrets: ["euw1-creds"] },
  { ns: "diag-expired", name: "stale", pullSecrets: ["old-ecr"], event: `Failed to pull image "${IMAGE}": failed to authorize: 401 Unauthorized` },
  // The waiting message says nothing; only the kubelet's Event (read by field selector) does.
  {
    ns: "diag-notfound",
    name: "nohost",
    image: "registry.invalid/app:1",
    event: 'Failed to pull image "registry.invalid/app:1": dial tcp: lookup registry.invalid: no such host',
  },
  {
    ns: "diag-notfound",
    name: "typo",
    image: `${ECR_HOST}/team/app:does-not-exist`,
    reason: "ErrImagePull",
    message: `failed to pull and unpack image "${ECR_HOST}/team/app:does-not-exist": failed to resolve reference: not found`,
  },
];

beforeAll(async () => {
  [bed, moto] = await Promise.all([startBed({ rbacManifests: ["infra/k8s/rbac.yaml"] }), startMoto()]);
  Object.assign(process.env, env());
  const data = (await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
  now = new Date(data.expiresAt!.getTime() - 11 * 3600_000).toISOString();

  for (const ns of new Set(PODS.map((p) => p.ns))) await bed.createNamespace(ns);
  const secret = (ns: string, name: string, type: string, data: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Secret",
    type,
    metadata: { name, namespace: ns },
    data,
  });
  const items: unknown[] = [
    secret("diag-type", "legacy-creds", "Opaque", { token: Buffer.from("x").toString("base64") }),
    secret("diag-host", "ghcr-creds", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": dockerConfig({ "ghcr.io": "ghp_notsecret" }) }),
    secret("diag-host", "euw1-creds", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": dockerConfig({ [EUW1_HOST]: "euw1-password" }) }),
    secret("diag-expired", "old-ecr", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": dockerConfig({ [ECR_HOST]: EXPIRED_PASSWORD }) }),
  ];
  for (const p of PODS) {
    items.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: p.name, namespace: p.ns },
      spec: {
        automountServiceAccountToken: false,
        ...(p.pullSecrets ? { imagePullSecrets: p.pullSecrets.map((name) => ({ name })) } : {}),
        containers: [{ name: "app", image: p.image ?? IMAGE }],
      },
    });
  }
  await bed.kubectl(["apply", "-f", "-"], { check: true, input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
  for (const p of PODS) {
    const image = p.image ?? IMAGE;
    const status = {
      status: {
        phase: "Pending",
        containerStatuses: [
          {
            name: "app",
            image,
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: p.reason ?? "ImagePullBackOff", message: p.message ?? `Back-off pulling image "${image}"` } },
          },
        ],
      },
    };
    await bed.kubectl(["-n", p.ns, "patch", "pod", p.name, "--subresource=status", "--type=merge", "-p", JSON.stringify(status)], { check: true });
    if (p.event) {
      const uid = JSON.parse((await bed.kubectl(["-n", p.ns, "get", "pod", p.name, "-o", "json"], { check: true })).stdout).metadata.uid;
      const ts = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      await bed.kubectl(["apply", "-f", "-"], {
        check: true,
        input: JSON.stringify({
          apiVersion: "v1",
          kind: "Event",
          metadata: { name: `${p.name}.failed`, namespace: p.ns },
          involvedObject: { apiVersion: "v1", kind: "Pod", namespace: p.ns, name: p.name, uid, fieldPath: "spec.containers{app}" },
          reason: "Failed",
          message: p.event,
          type: "Warning",
          source: { component: "kubelet" },
          firstTimestamp: ts,
          lastTimestamp: ts,
          count: 1,
        }),
      });
    }
  }
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop()]);
  process.env = saved;
});

const causesByPod = (report: Report): Record<string, string[]> => {
  const stuck: StuckContainerReport[] = report.kubernetes!.clusters[0]!.diagnosis!.stuck;
  return Object.fromEntries(stuck.map((s) => [`${s.namespace}/${s.pod}`, s.causes.map((c) => c.code)]));
};

describe("diagnose on the real kube-apiserver", () => {
  it("the status subresource took the waiting state (the bed is set up as a kubelet would leave it)", async () => {
    const out = await bed.kubectl(["-n", "diag-trap", "get", "pod", "trap", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"], {
      check: true,
    });
    expect(out.stdout).toBe("ImagePullBackOff");
  });

  it("diagnose --json names the cause of every stuck pod; nothing is written; no secret leaves", async () => {
    const before = (
      await bed.kubectl(["get", "secrets,serviceaccounts", "-A", "-o", "jsonpath={range .items[*]}{.metadata.resourceVersion} {end}"], { check: true })
    ).stdout;
    const { code, stdout, stderr } = await cli(["diagnose", "--json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Report;
    expect(report).toMatchObject({ ok: true, action: "diagnose", ecrCalls: 0, registries: [] });
    expect(report.kubernetes!.mode).toBe("diagnosed");
    expect(causesByPod(report)).toEqual({
      "diag-expired/stale": ["token-expired"],
      "diag-host/ghcr-only": ["registry-host-mismatch"],
      "diag-host/other-region": ["wrong-region"],
      "diag-missing/missing": ["pull-secret-not-found"],
      "diag-notfound/nohost": ["not-a-credential-problem"],
      "diag-notfound/typo": ["not-a-credential-problem"],
      "diag-trap/trap": ["default-service-account-trap"],
      "diag-type/opaque": ["wrong-secret-type"],
    });
    const nohost = report.kubernetes!.clusters[0]!.diagnosis!.stuck.find((s) => s.pod === "nohost")!;
    expect(nohost.causes[0]!.message).toMatch(/no such host/);
    const trap = report.kubernetes!.clusters[0]!.diagnosis!.stuck.find((s) => s.pod === "trap")!;
    expect(trap.causes[0]!.hint).toMatch(/PATCH_SERVICE_ACCOUNTS=default/);
    // Read-only: no Secret or ServiceAccount changed.
    const after = (
      await bed.kubectl(["get", "secrets,serviceaccounts", "-A", "-o", "jsonpath={range .items[*]}{.metadata.resourceVersion} {end}"], { check: true })
    ).stdout;
    expect(after).toBe(before);
    for (const needle of [EXPIRED_PASSWORD, EXPIRED_AUTH, "BEDPAYLOAD", "ghp_notsecret", "euw1-password", "k8s-aws-v1."]) expect(stdout).not.toContain(needle);
  });

  it("the client-node adapter (KUBE_CLIENT=client-node) reads the same diagnosis", async () => {
    const http = JSON.parse((await cli(["diagnose", "--json"])).stdout) as Report;
    const out = await cli(["diagnose", "--json"], { KUBE_CLIENT: "client-node" });
    expect(out.code).toBe(0);
    const viaClientNode = JSON.parse(out.stdout) as Report;
    expect(viaClientNode.kubernetes!.clusters[0]!.diagnosis!.stuck).toEqual(http.kubernetes!.clusters[0]!.diagnosis!.stuck);
  });

  it("diagnose prints a table, and --namespace narrows it", async () => {
    const { code, stdout } = await cli(["diagnose", "--namespace", "diag-type", "--namespace", "diag-trap"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/NAMESPACE\/POD\s+IMAGE\s+CAUSE\s+HINT/);
    expect(stdout).toMatch(/diag-type\/opaque \[app\]\s+\S+\s+wrong-secret-type/);
    expect(stdout).toMatch(/diag-trap\/trap \[app\]\s+\S+\s+default-service-account-trap/);
    expect(stdout).not.toMatch(/diag-host/);
    expect(stdout).not.toContain(EXPIRED_PASSWORD);
  });

  it("an unknown cluster is a usage error (exit 2), nothing read", async () => {
    const { code, stderr } = await cli(["diagnose", "--cluster", "nope"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/not configured/);
  });

  it("heal reports what is still stuck after its writes, and why it cannot fix it", async () => {
    const { stdout } = await cli(["heal", "--json", "--now", now]);
    const report = JSON.parse(stdout) as Report;
    expect(report.action).toBe("heal");
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.namespaces.find((n) => n.namespace === "diag-trap")).toMatchObject({ outcome: "created" });
    const causes = causesByPod(report);
    // The default ServiceAccount now has the pull secret, but the pod was admitted before.
    expect(causes["diag-trap/trap"]).toEqual(["default-service-account-trap"]);
    const trap = cluster.diagnosis!.stuck.find((s) => s.pod === "trap")!;
    expect(trap.causes[0]!.message).toMatch(/now lists ecr-pull-secret/);
    expect(trap.causes[0]!.hint).toMatch(/recreate the pod/);
    // Secrets the product does not manage stay as they were: the causes remain.
    expect(causes["diag-missing/missing"]).toEqual(["pull-secret-not-found"]);
    expect(causes["diag-type/opaque"]).toEqual(["wrong-secret-type"]);
    expect(causes["diag-expired/stale"]).toEqual(["token-expired"]);
    expect(cluster.diagnosis!.stuck.find((s) => s.pod === "stale")!.causes[0]!.hint).toMatch(/not refreshed by the product/);
    expect(causes["diag-notfound/typo"]).toEqual(["not-a-credential-problem"]);
    for (const needle of [EXPIRED_PASSWORD, EXPIRED_AUTH, "BEDPAYLOAD", "k8s-aws-v1."]) expect(stdout).not.toContain(needle);
  });
});
