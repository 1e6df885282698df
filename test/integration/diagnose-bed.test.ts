/**
 * `diagnose` and heal's trailing diagnosis on the real kube-apiserver, through the CLI, with the
 * product's own EKS token and ONLY the permissions of infra/k8s/components/fallback/rbac.yaml (and its admission
 * policy) plus the optional role that lets the diagnosis read the pull Secrets pods reference
 * (infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml; the last test unbinds it). No kubelet runs in
 * the bed: test/bed/kubelet.ts leaves each pod as a kubelet would — its waiting state set through
 * the status subresource, and the kubelet's event sequence (Pulling, Failed with the detailed
 * error, `Error: ErrImagePull`, BackOff, `Error: ImagePullBackOff`) — with the error texts of
 * containerd, Docker, ECR and Docker Hub (test/fixtures/kubelet-pull-errors.ts). One case per
 * cause code at least; every hint is asserted.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main";
import type { Cause, Report, StuckContainerReport } from "../../src/report/report";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startBed, type Bed } from "../bed/index";
import { DIAGNOSIS_SECRETS_RBAC, PRODUCT_MANIFESTS, waitForRight } from "../bed/product-manifests";
import { adminClient, createBrokenPod, createNamespaces, dockerConfigSecret, ecrPassword, type AdminClient, type BrokenPod } from "../bed/kubelet";
import * as K from "../fixtures/kubelet-pull-errors";
import { productEnvForBed } from "../support/bed-env";
import { startMoto, type MotoServer } from "../support/moto";

const ECR_HOST = K.ecrHost("us-east-1");
const EUW1_HOST = K.ecrHost("eu-west-1");
const IMAGE = `${ECR_HOST}/team/app:1.0`;
const PAY_IMAGE = `${K.ecrHost("us-east-1", K.OTHER_ACCOUNT)}/payments/payment-api:3.0.0`;
const PTC_IMAGE = `${ECR_HOST}/docker-hub/library/nginx:1.27`;
const HUB_IMAGE = "busybox:1.36";
let bed: Bed;
let moto: MotoServer;
let admin: AdminClient;
let now: string;
const saved = { ...process.env };

const EXPIRED_PASSWORD = ecrPassword(new Date(Date.now() - 2 * 3600_000), "BEDPAYLOAD-c0ffee-expired");
const EXPIRED_AUTH = Buffer.from(`AWS:${EXPIRED_PASSWORD}`).toString("base64");
const FRESH_PASSWORD = ecrPassword(new Date(Date.now() + 6 * 3600_000), "BEDPAYLOAD-fresh-5e11");

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

/** One broken pod per case, in namespaces named after what is wrong. */
const PODS: BrokenPod[] = [
  // The default-ServiceAccount trap; SA payment-api-sa in the namespace has a pull secret.
  { namespace: "diag-trap", name: "trap", image: IMAGE, error: K.noBasicAuth(IMAGE) },
  { namespace: "diag-named-sa", name: "builder", image: IMAGE, error: K.noBasicAuth(IMAGE), serviceAccountName: "builder" },
  // registry-creds exists, but in diag-other.
  { namespace: "diag-missing", name: "missing", image: IMAGE, error: K.noBasicAuth(IMAGE), imagePullSecrets: ["registry-creds"] },
  { namespace: "diag-type", name: "opaque", image: IMAGE, error: K.noBasicAuth(IMAGE), imagePullSecrets: ["legacy-creds"] },
  // A docker config copied from a workstation that uses a credential helper: no "auths".
  { namespace: "diag-type", name: "credhelper", image: IMAGE, error: K.noBasicAuth(IMAGE), imagePullSecrets: ["copied-config"] },
  { namespace: "diag-host", name: "ghcr-only", image: IMAGE, error: K.noBasicAuth(IMAGE), imagePullSecrets: ["ghcr-creds"] },
  { namespace: "diag-host", name: "other-region", image: IMAGE, error: K.noBasicAuth(IMAGE), imagePullSecrets: ["euw1-creds"] },
  // An expired ECR token: ECR answers the manifest HEAD with 403, no reason.
  {
    namespace: "diag-expired",
    name: "stale",
    image: IMAGE,
    error: K.forbiddenHead(IMAGE, "us-east-1", K.ACCOUNT, "team/app", "1.0"),
    imagePullSecrets: ["old-ecr"],
  },
  // The pull secret looks right and the registry gave no reason.
  {
    namespace: "diag-unknown",
    name: "puzzle",
    image: IMAGE,
    error: K.forbiddenHead(IMAGE, "us-east-1", K.ACCOUNT, "team/app", "1.0"),
    imagePullSecrets: ["fresh-ecr"],
  },
  // Not credential problems: DNS, a missing tag, a missing repository, a bad reference, Docker Hub's rate limit.
  { namespace: "diag-notfound", name: "nohost", image: "registry.invalid/app:1", error: K.noSuchHost("registry.invalid/app:1", "registry.invalid") },
  {
    namespace: "diag-notfound",
    name: "typo",
    image: `${ECR_HOST}/team/app:does-not-exist`,
    error: K.tagNotFound(`${ECR_HOST}/team/app:does-not-exist`),
    reason: "ErrImagePull",
    imagePullSecrets: ["fresh-ecr"],
  },
  {
    namespace: "diag-notfound",
    name: "norepo",
    image: `${ECR_HOST}/team/gone:1`,
    error: K.repositoryNotFoundDocker("us-east-1", K.ACCOUNT, "team/gone"),
    imagePullSecrets: ["fresh-ecr"],
  },
  {
    namespace: "diag-notfound",
    name: "badref",
    image: "registry.example.com/Team/App:1",
    reason: "InvalidImageName",
    error:
      'Failed to apply default image tag "registry.example.com/Team/App:1": couldn\'t parse image reference "registry.example.com/Team/App:1": invalid reference format: repository name (Team/App) must be lowercase',
  },
  {
    namespace: "diag-ratelimit",
    name: "hub",
    image: HUB_IMAGE,
    error: K.dockerHubRateLimit(HUB_IMAGE),
    imagePullSecrets: ["ecr-only"],
    healthyContainers: [{ name: "proxy", image: IMAGE }],
  },
  // ECR refuses the token's principal: the detail is only in the older Failed event.
  {
    namespace: "diag-denied",
    name: "payment-api",
    image: PAY_IMAGE,
    error: K.ecrDeniedContainerd(PAY_IMAGE, "us-east-1", K.OTHER_ACCOUNT, "payments/payment-api"),
    imagePullSecrets: ["pay-ecr"],
  },
  // A pull-through cache's first pull (kubelet ≥ 1.32: the waiting message carries the error; no events).
  {
    namespace: "diag-denied",
    name: "cache-first-pull",
    image: PTC_IMAGE,
    error: K.ecrDeniedDocker("us-east-1", K.ACCOUNT, "docker-hub/library/nginx", {
      action: "ecr:CreateRepository",
      principal: K.ROTATOR_SESSION,
      because: "no identity-based policy allows the ecr:CreateRepository action",
    }),
    kubelet: "1.32",
    events: false,
    imagePullSecrets: ["fresh-ecr"],
  },
];

beforeAll(async () => {
  [bed, moto] = await Promise.all([startBed({ rbacManifests: [...PRODUCT_MANIFESTS, DIAGNOSIS_SECRETS_RBAC] }), startMoto()]);
  Object.assign(process.env, env());
  const data = (await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
  now = new Date(data.expiresAt!.getTime() - 11 * 3600_000).toISOString();
  admin = adminClient(bed);

  await createNamespaces(admin, [...new Set([...PODS.map((p) => p.namespace), "diag-other"])]);
  const sa = (ns: string, name: string, pulls: string[] = []) => ({
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name, namespace: ns },
    ...(pulls.length ? { imagePullSecrets: pulls.map((n) => ({ name: n })) } : {}),
  });
  const secrets: Array<[string, unknown]> = [
    ["diag-trap", dockerConfigSecret("diag-trap", "team-pull-secret", { [ECR_HOST]: FRESH_PASSWORD })],
    ["diag-other", dockerConfigSecret("diag-other", "registry-creds", { [ECR_HOST]: FRESH_PASSWORD })],
    [
      "diag-type",
      {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { name: "legacy-creds", namespace: "diag-type" },
        data: { token: Buffer.from("x").toString("base64") },
      },
    ],
    [
      "diag-type",
      {
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/dockerconfigjson",
        metadata: { name: "copied-config", namespace: "diag-type" },
        data: { ".dockerconfigjson": Buffer.from('{"credsStore":"ecr-login"}').toString("base64") },
      },
    ],
    ["diag-host", dockerConfigSecret("diag-host", "ghcr-creds", { "ghcr.io": "ghp_notsecret" })],
    ["diag-host", dockerConfigSecret("diag-host", "euw1-creds", { [EUW1_HOST]: "euw1-password" })],
    ["diag-expired", dockerConfigSecret("diag-expired", "old-ecr", { [ECR_HOST]: EXPIRED_PASSWORD })],
    ["diag-unknown", dockerConfigSecret("diag-unknown", "fresh-ecr", { [ECR_HOST]: FRESH_PASSWORD })],
    ["diag-notfound", dockerConfigSecret("diag-notfound", "fresh-ecr", { [ECR_HOST]: FRESH_PASSWORD })],
    ["diag-ratelimit", dockerConfigSecret("diag-ratelimit", "ecr-only", { [ECR_HOST]: FRESH_PASSWORD })],
    ["diag-denied", dockerConfigSecret("diag-denied", "pay-ecr", { [K.ecrHost("us-east-1", K.OTHER_ACCOUNT)]: FRESH_PASSWORD })],
    ["diag-denied", dockerConfigSecret("diag-denied", "fresh-ecr", { [ECR_HOST]: FRESH_PASSWORD })],
  ];
  for (const [ns, body] of secrets) await admin.call("POST", `/api/v1/namespaces/${ns}/secrets`, body);
  await admin.call("POST", "/api/v1/namespaces/diag-trap/serviceaccounts", sa("diag-trap", "payment-api-sa", ["team-pull-secret"]));
  await admin.call("POST", "/api/v1/namespaces/diag-named-sa/serviceaccounts", sa("diag-named-sa", "builder"));
  await admin.each(PODS, async (p) => void (await createBrokenPod(admin, p)), 8);
}, 600_000);

afterAll(async () => {
  admin?.close();
  await Promise.all([bed?.stop(), moto?.stop()]);
  process.env = saved;
});

const stuckOf = (report: Report): StuckContainerReport[] => report.kubernetes!.clusters[0]!.diagnosis!.stuck;
const causesByPod = (report: Report): Record<string, string[]> =>
  Object.fromEntries(stuckOf(report).map((s) => [`${s.namespace}/${s.pod}`, s.causes.map((c) => c.code)]));
const causeOf = (report: Report, pod: string): Cause => {
  const row = stuckOf(report).find((s) => s.pod === pod);
  if (!row) throw new Error(`no stuck row for ${pod}`);
  return row.causes[0]!;
};

describe("diagnose on the real kube-apiserver", () => {
  it("the bed holds what a kubelet leaves: waiting state via the status subresource, the event sequence in order", async () => {
    const status = await admin.call<{ status: { containerStatuses: Array<{ state: { waiting?: { reason: string; message: string } } }> } }>(
      "GET",
      "/api/v1/namespaces/diag-trap/pods/trap",
    );
    expect(status.body.status.containerStatuses[0]!.state.waiting).toEqual({ reason: "ImagePullBackOff", message: `Back-off pulling image "${IMAGE}"` });
    const events = await admin.call<{ items: Array<{ reason: string; message: string; involvedObject: { fieldPath: string } }> }>(
      "GET",
      "/api/v1/namespaces/diag-trap/events",
    );
    expect(events.body.items.map((e) => [e.reason, e.message.replace(/".*/, "")])).toEqual([
      ["Pulling", "Pulling image "],
      ["Failed", "Failed to pull image "],
      ["Failed", "Error: ErrImagePull"],
      ["BackOff", "Back-off pulling image "],
      ["Failed", "Error: ImagePullBackOff"],
    ]);
    expect(new Set(events.body.items.map((e) => e.involvedObject.fieldPath))).toEqual(new Set(["spec.containers{app}"]));
  });

  it("diagnose --json names the cause of every stuck pod and the fix; nothing is written; no secret leaves", async () => {
    const before = (
      await bed.kubectl(["get", "secrets,serviceaccounts", "-A", "-o", "jsonpath={range .items[*]}{.metadata.resourceVersion} {end}"], { check: true })
    ).stdout;
    const { code, stdout, stderr } = await cli(["diagnose", "--json"]);
    // Standard error holds only the first line: what the command acts on (no warning, no error).
    expect(stderr).toMatch(
      /^diagnose: account 123456789012, region us-east-1; cluster us-east-1:test-cluster; all namespaces except kube-system, kube-public, kube-node-lease, default; configuration: this shell's environment[^\n]*\n$/,
    );
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Report;
    expect(report).toMatchObject({ ok: true, action: "diagnose", ecrCalls: 0, registries: [] });
    expect(report.kubernetes!.mode).toBe("diagnosed");
    expect(causesByPod(report)).toEqual({
      "diag-denied/cache-first-pull": ["registry-permission-denied"],
      "diag-denied/payment-api": ["registry-permission-denied"],
      "diag-expired/stale": ["token-expired"],
      "diag-host/ghcr-only": ["registry-host-mismatch"],
      "diag-host/other-region": ["wrong-region"],
      "diag-missing/missing": ["pull-secret-not-found"],
      "diag-named-sa/builder": ["no-image-pull-secrets"],
      "diag-notfound/badref": ["not-a-credential-problem"],
      "diag-notfound/nohost": ["not-a-credential-problem"],
      "diag-notfound/norepo": ["not-a-credential-problem"],
      "diag-notfound/typo": ["not-a-credential-problem"],
      "diag-ratelimit/hub": ["not-a-credential-problem"],
      "diag-trap/trap": ["default-service-account-trap"],
      "diag-type/credhelper": ["invalid-pull-secret"],
      "diag-type/opaque": ["wrong-secret-type"],
      "diag-unknown/puzzle": ["unknown"],
    });
    // Every hint, as the operator reads it.
    expect(causeOf(report, "trap").message).toMatch(/ServiceAccount "payment-api-sa" in diag-trap does carry team-pull-secret/);
    // PATCH_SERVICE_ACCOUNTS already lists "default" here: the hint says so, and that the pod must be recreated.
    expect(causeOf(report, "trap").hint).toMatch(
      /^set serviceAccountName: payment-api-sa in the pod template .* or PATCH_SERVICE_ACCOUNTS already lists "default": run heal .*then recreate the pod: kubectl -n diag-trap delete pod trap/,
    );
    expect(causeOf(report, "builder").hint).toMatch(/add "builder" to PATCH_SERVICE_ACCOUNTS, run heal, then recreate the pod/);
    expect(causeOf(report, "missing").message).toMatch(
      /"registry-creds" does not exist in namespace diag-missing; a Secret of that name exists in namespace diag-other/,
    );
    expect(causeOf(report, "missing").hint).toMatch(/^create registry-creds in diag-missing \(e\.g\. a copy of the one in diag-other\)/);
    expect(causeOf(report, "opaque").hint).toMatch(/recreate it as type kubernetes\.io\/dockerconfigjson/);
    expect(causeOf(report, "credhelper").message).toMatch(/has no "auths" object/);
    expect(causeOf(report, "credhelper").hint).toMatch(/rewrite its content/);
    expect(causeOf(report, "ghcr-only").hint).toMatch(/run heal so the pull secret gets an entry for this registry/);
    expect(causeOf(report, "other-region").hint).toBe("run heal so the pull secret gets the entry for this region");
    expect(causeOf(report, "stale").hint).toMatch(/not refreshed by the product: have ESO re-sync it/);
    expect(causeOf(report, "puzzle").message).toContain(`unexpected status from HEAD request to https://${ECR_HOST}/v2/team/app/manifests/1.0: 403 Forbidden`);
    expect(causeOf(report, "puzzle").hint).toMatch(/lacks ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability/);
    expect(causeOf(report, "nohost").message).toMatch(/lookup registry\.invalid: no such host/);
    expect(causeOf(report, "typo").hint).toMatch(/check the image name, tag or digest/);
    expect(causeOf(report, "norepo").message).toMatch(/the repository "team\/gone" \(registry 123456789012\) does not exist/);
    expect(causeOf(report, "norepo").hint).toMatch(/describe-repositories/);
    expect(causeOf(report, "badref").message).toMatch(/must be lowercase/);
    // Docker Hub's limit on a pod whose pull secret holds only ECR: not "add docker.io to ECR_REGISTRIES".
    expect(causeOf(report, "hub").message).toMatch(/^rate limited: Docker Hub \(docker\.io\) refuses more pulls/);
    expect(causeOf(report, "hub").message).toMatch(/the pull is anonymous: no pull secret entry matches docker\.io/);
    expect(causeOf(report, "hub").hint).toMatch(/give the pod a pull secret for docker\.io/);
    expect(causeOf(report, "hub").hint).not.toMatch(/ECR_REGISTRIES/);
    // The ECR denial lives in the older Failed event; the newest one says only `Error: ImagePullBackOff`.
    const denied = stuckOf(report).find((s) => s.pod === "payment-api")!;
    expect(denied.detail).toBe(
      `Failed to pull image "${PAY_IMAGE}": ${K.ecrDeniedContainerd(PAY_IMAGE, "us-east-1", K.OTHER_ACCOUNT, "payments/payment-api")}`,
    );
    expect(denied.causes[0]!.message).toContain(
      `ECR refused ecr:BatchGetImage to role ${K.ROTATOR_ROLE} (session ${K.ROTATOR_SESSION}) on repository payments/payment-api (account ${K.OTHER_ACCOUNT}, us-east-1)`,
    );
    expect(denied.causes[0]!.hint).toMatch(
      new RegExp(
        `^the repository policy of payments/payment-api \\(account ${K.OTHER_ACCOUNT}\\) must allow ${K.ROTATOR_ROLE.replace(/[/]/g, "\\/")} ecr:BatchGetImage`,
      ),
    );
    expect(causeOf(report, "cache-first-pull").hint).toBe(
      `allow ${K.ROTATOR_ROLE} ecr:BatchImportUpstreamImage and ecr:CreateRepository on arn:aws:ecr:us-east-1:${K.ACCOUNT}:repository/docker-hub/* (its identity policy), or pull the image once with a principal that has them; a heal will not help until then (docs/deploy.md, IAM)`,
    );
    // Quoted kubelet messages keep image references and hosts (no "[redacted]:3.0.0", no "https:[redacted]").
    expect(stdout).toContain(`\\"${PAY_IMAGE}\\"`);
    expect(stdout).not.toMatch(/\[redacted\]:3\.0\.0|https:\[redacted\]/);
    // The summary counts every container by cause, with its namespaces.
    const summary = report.kubernetes!.clusters[0]!.diagnosis!.summary!;
    expect(summary[0]).toEqual({ code: "not-a-credential-problem", containers: 5, namespaces: ["diag-notfound", "diag-ratelimit"] });
    expect(summary.find((c) => c.code === "registry-permission-denied")).toEqual({
      code: "registry-permission-denied",
      containers: 2,
      namespaces: ["diag-denied"],
    });
    // Requests: one page each of namespaces, pods and Failed events; one GET per distinct
    // referenced Secret (11); one ServiceAccount LIST per namespace where a pod without
    // imagePullSecrets is not explained by its error (diag-trap, diag-named-sa); one LIST by
    // field selector for the missing registry-creds. Read-only.
    expect(report.kubernetes!.clusters[0]!.diagnosis!.requests).toBe(3 + 11 + 2 + 1);
    const after = (
      await bed.kubectl(["get", "secrets,serviceaccounts", "-A", "-o", "jsonpath={range .items[*]}{.metadata.resourceVersion} {end}"], { check: true })
    ).stdout;
    expect(after).toBe(before);
    for (const needle of [EXPIRED_PASSWORD, EXPIRED_AUTH, FRESH_PASSWORD, "BEDPAYLOAD", "ghp_notsecret", "euw1-password", "k8s-aws-v1."])
      expect(stdout).not.toContain(needle);
  });

  it("the client-node adapter (KUBE_CLIENT=client-node) reads the same diagnosis", async () => {
    const http = JSON.parse((await cli(["diagnose", "--json"])).stdout) as Report;
    const out = await cli(["diagnose", "--json"], { KUBE_CLIENT: "client-node" });
    expect(out.code).toBe(0);
    const viaClientNode = JSON.parse(out.stdout) as Report;
    expect(viaClientNode.kubernetes!.clusters[0]!.diagnosis!.stuck).toEqual(http.kubernetes!.clusters[0]!.diagnosis!.stuck);
    expect(viaClientNode.kubernetes!.clusters[0]!.diagnosis!.summary).toEqual(http.kubernetes!.clusters[0]!.diagnosis!.summary);
  });

  it("diagnose prints the causes with counts and namespaces first, then the table; --namespace narrows it", async () => {
    const all = await cli(["diagnose"]);
    expect(all.code).toBe(0);
    const lines = all.stdout.split("\n");
    const header = lines.findIndex((l) => /NAMESPACE\/POD\s+IMAGE\s+CAUSE\s+HINT/.test(l));
    const summary = lines.slice(0, header).filter((l) => / × /.test(l));
    expect(summary[0]).toMatch(/^\s+5 × not-a-credential-problem\s+in 2 namespaces: diag-notfound, diag-ratelimit$/);
    expect(summary).toHaveLength(11);
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
    expect(cluster.namespaces.find((n) => n.namespace === "diag-named-sa")).toMatchObject({ outcome: "created" });
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
    expect(causes["diag-denied/payment-api"]).toEqual(["registry-permission-denied"]);
    for (const needle of [EXPIRED_PASSWORD, EXPIRED_AUTH, FRESH_PASSWORD, "BEDPAYLOAD", "k8s-aws-v1."]) expect(stdout).not.toContain(needle);
  });

  it("without the optional role, the diagnosis says which Secrets it could not check and still succeeds", async () => {
    await bed.kubectl(["delete", "clusterrolebinding", "ecr-token-rotator-diagnosis-secrets"], { check: true });
    try {
      await waitForRight(admin, "get", "secrets", false);
      const { code, stdout } = await cli(["diagnose", "--json"]);
      expect(code).toBe(0);
      const report = JSON.parse(stdout) as Report;
      expect(report.ok).toBe(true);
      const cluster = report.kubernetes!.clusters[0]!;
      expect(cluster.ok).toBe(true);
      expect(cluster.diagnosis!.errors).toBeUndefined();
      expect(cluster.diagnosis!.notes).toContain(
        "could not check: the optional role ecr-token-rotator-diagnosis-secrets is not bound (infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml): Secrets other than ecr-pull-secret that stuck pods reference were not read",
      );
      const row = (pod: string) => cluster.diagnosis!.stuck.find((s) => s.pod === pod)!;
      // Causes that need a foreign Secret's content: not guessed, said why.
      for (const [pod, secret] of [
        ["opaque", "diag-type/legacy-creds"],
        ["ghcr-only", "diag-host/ghcr-creds"],
      ] as const) {
        expect(row(pod).causes, pod).toEqual([
          {
            code: "unknown",
            message: `Secret ${secret}: could not check: the optional role ecr-token-rotator-diagnosis-secrets is not bound`,
            hint: "to let the diagnosis read the pull Secrets pods reference, bind it (kubectl apply -f infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml) and diagnose again",
          },
        ]);
      }
      // What needs no foreign Secret is still diagnosed: the kubelet's own error, the ServiceAccounts.
      const causes = causesByPod(report);
      expect(causes["diag-notfound/typo"]).toEqual(["not-a-credential-problem"]);
      expect(causes["diag-denied/payment-api"]).toEqual(["registry-permission-denied"]);
      expect(causes["diag-trap/trap"]).toEqual(["default-service-account-trap"]);
      for (const needle of [EXPIRED_PASSWORD, FRESH_PASSWORD, "BEDPAYLOAD", "k8s-aws-v1."]) expect(stdout).not.toContain(needle);
    } finally {
      await bed.kubectl(["apply", "-f", "-"], { input: readFileSync(join(ROOT, DIAGNOSIS_SECRETS_RBAC), "utf8"), check: true });
      await waitForRight(admin, "get", "secrets", true);
    }
  });
});
