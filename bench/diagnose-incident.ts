/**
 * Diagnosis at incident scale: diagnoseCluster against the real kube-apiserver of the test bed
 * with N namespaces (default 1,000) and S stuck pods across them (default 300), each left as a
 * kubelet leaves a failing pull (test/bed/kubelet.ts: waiting state via the status subresource,
 * the kubelet's five events), with a fixed latency added to every request by the bed's proxy.
 *
 *   npm run bench  (or: node .bench/diagnose-incident.mjs after one npm run bench) [--json] [--namespaces 1000] [--stuck 300] [--latency-ms 5] [--rounds 3]
 *
 * The incident mixes causes as a real one does: half the pods hold an expired copy of the pull
 * secret (403 on the manifest HEAD), a fifth hit Docker Hub's rate limit, others are refused by
 * ECR's IAM, fell into the default-ServiceAccount trap, or reference a Secret that exists only in
 * other namespaces. Setup (untimed) goes straight to the API server as admin. Measured: the
 * diagnosis in a child process from an esbuild bundle (as in Lambda), authenticated by the
 * product's own EKS token, through the proxy, which counts the requests. Baseline, measured
 * beside each run: the LIST pages alone (namespaces, pods, Failed events) with the same client —
 * what any diagnosis must read. Medians of 3 rounds. Targets: requests ≤ LIST pages + one GET per distinct Secret/ServiceAccount,
 * wall ≤ 2 s at +5 ms per request.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { nodeBundleOptions } from "../scripts/esbuild-options.mjs";
import { createEksToken } from "../src/eks/token";
import { startBed, type Bed } from "../test/bed";
import { adminClient, createBrokenPod, createNamespaces, dockerConfigSecret, ecrPassword, type BrokenPod } from "../test/bed/kubelet";
import * as K from "../test/fixtures/kubelet-pull-errors";
import { arg, JSON_OUT, log, ROOT, runChild } from "./bench-support";

const N = arg("namespaces", 1000);
const STUCK = arg("stuck", 300);
const LATENCY_MS = arg("latency-ms", 5);
const ROUNDS = Math.max(1, arg("rounds", 3));

const HOST = K.ecrHost("us-east-1");
const PAY_HOST = K.ecrHost("us-east-1", K.OTHER_ACCOUNT);

/** The incident: which pod is broken how, in which namespace; and the Secrets around them. */
function incident(names: string[]): { pods: BrokenPod[]; secrets: Array<[string, unknown]>; serviceAccounts: Array<[string, unknown]> } {
  const pods: BrokenPod[] = [];
  const secrets: Array<[string, unknown]> = [];
  const serviceAccounts: Array<[string, unknown]> = [];
  const expired = ecrPassword(new Date(Date.now() - 3600_000), "BENCH-EXPIRED");
  const fresh = ecrPassword(new Date(Date.now() + 6 * 3600_000), "BENCH-FRESH");
  const stride = Math.max(1, Math.floor(names.length / Math.max(1, STUCK)));
  for (let i = 0; i < STUCK; i++) {
    const namespace = names[(i * stride) % names.length]!;
    const name = `app-${String(i).padStart(4, "0")}`;
    const share = i / STUCK;
    const image = `${HOST}/team/app:${1 + (i % 3)}.0`;
    if (share < 0.5) {
      secrets.push([namespace, dockerConfigSecret(namespace, "ecr-pull-secret", { [HOST]: expired })]);
      pods.push({
        namespace,
        name,
        image,
        imagePullSecrets: ["ecr-pull-secret"],
        error: K.forbiddenHead(image, "us-east-1", K.ACCOUNT, "team/app", `${1 + (i % 3)}.0`),
      });
    } else if (share < 0.7) {
      secrets.push([namespace, dockerConfigSecret(namespace, "ecr-pull-secret", { [HOST]: fresh })]);
      pods.push({ namespace, name, image: "busybox:1.36", imagePullSecrets: ["ecr-pull-secret"], error: K.dockerHubRateLimit("busybox:1.36") });
    } else if (share < 0.85) {
      const payImage = `${PAY_HOST}/payments/payment-api:3.0.0`;
      secrets.push([namespace, dockerConfigSecret(namespace, "ecr-pull-secret", { [PAY_HOST]: fresh })]);
      pods.push({
        namespace,
        name,
        image: payImage,
        imagePullSecrets: ["ecr-pull-secret"],
        kubelet: "1.32",
        error: K.ecrDeniedContainerd(payImage, "us-east-1", K.OTHER_ACCOUNT, "payments/payment-api"),
      });
    } else if (share < 0.95) {
      serviceAccounts.push([
        namespace,
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: `${name}-sa`, namespace }, imagePullSecrets: [{ name: "ecr-pull-secret" }] },
      ]);
      pods.push({ namespace, name, image, error: K.noBasicAuth(image) });
    } else {
      pods.push({ namespace, name, image, imagePullSecrets: ["registry-creds"], error: K.noBasicAuth(image) });
    }
  }
  // registry-creds exists, but only in a few namespaces without stuck pods.
  for (const namespace of names.filter((_, i) => i % stride !== 0).slice(0, 5))
    secrets.push([namespace, dockerConfigSecret(namespace, "registry-creds", { [HOST]: fresh })]);
  return { pods, secrets, serviceAccounts };
}

/** Bundles a runner (the diagnosis, or the bare LISTs of the baseline) like the Lambda bundle. */
async function bundleRunner(dir: string): Promise<string> {
  const entry = join(dir, "runner.ts");
  writeFileSync(
    entry,
    `import { diagnoseCluster } from ${JSON.stringify(join(ROOT, "src/diagnose/collect.ts"))};
import { forEachListed } from ${JSON.stringify(join(ROOT, "src/kube/paging.ts"))};
import { DEFAULT_RETRY_POLICY } from ${JSON.stringify(join(ROOT, "src/kube/retry.ts"))};
import { openKubeApi } from ${JSON.stringify(join(ROOT, "src/kube/open.ts"))};
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { connection, target, mode } = JSON.parse(input);
const api = await openKubeApi(connection, { maxSockets: 8 });
const t0 = performance.now();
let out;
if (mode === "baseline") {
  const paging = { limit: 500, policy: DEFAULT_RETRY_POLICY };
  let items = 0;
  await forEachListed((o) => api.listNamespaces(o), {}, () => void items++, paging);
  await forEachListed((o) => api.listPods(o), { fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" }, () => void items++, { ...paging, limit: 200 });
  await forEachListed((o) => api.listEvents(o), { fieldSelector: "involvedObject.kind=Pod,reason=Failed" }, () => void items++, paging);
  out = { wallMs: performance.now() - t0, items };
} else {
  const d = await diagnoseCluster(target, { api });
  out = { wallMs: performance.now() - t0, stuck: d.stuck.length + (d.truncated ?? 0), listed: d.stuck.length, summary: d.summary, errors: d.errors ?? [], requests: d.requests, maxRssKb: process.resourceUsage().maxRSS };
}
await api.close?.();
process.stdout.write(JSON.stringify(out));
`,
  );
  const out = join(dir, "runner.mjs");
  await build({ ...nodeBundleOptions, entryPoints: [entry], outfile: out, logLevel: "error" });
  return out;
}

/** A LIST page: a GET of a collection (no object name after the resource). */
const isList = (path: string) =>
  /^\/api\/v1\/(namespaces|pods|events|secrets|serviceaccounts)$|^\/api\/v1\/namespaces\/[^/]+\/(secrets|serviceaccounts|pods|events)$/.test(path);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "diagnose-incident-"));
  let bed: Bed | undefined;
  try {
    log(`diagnose at incident scale: ${N} namespaces, ${STUCK} stuck pods, +${LATENCY_MS} ms per request at the proxy`);
    const [runner, started] = await Promise.all([bundleRunner(dir), startBed({ rbacManifests: ["infra/k8s/components/fallback/rbac.yaml"] })]);
    bed = started;
    const admin = adminClient(bed, 32);
    const names = Array.from({ length: N }, (_, i) => `incident-${String(i).padStart(4, "0")}`);
    const t0 = Date.now();
    await createNamespaces(admin, names, { bench: "diagnose" });
    const { pods, secrets, serviceAccounts } = incident(names);
    const seen = new Set<string>();
    await admin.each(
      secrets.filter(
        ([ns, s]) =>
          !seen.has(`${ns}/${(s as { metadata: { name: string } }).metadata.name}`) && seen.add(`${ns}/${(s as { metadata: { name: string } }).metadata.name}`),
      ),
      async ([ns, body]) => void (await admin.call("POST", `/api/v1/namespaces/${ns}/secrets`, body)),
    );
    await admin.each(serviceAccounts, async ([ns, body]) => void (await admin.call("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, body)));
    await admin.each(pods, async (p) => void (await createBrokenPod(admin, p)));
    admin.close();
    log(`setup: ${N} namespaces, ${pods.length} broken pods (${pods.length * 5} kubelet events), ${seen.size} Secrets in ${Date.now() - t0} ms`);

    const credentials = { accessKeyId: "AKIAROTATORTESTKEY01", secretAccessKey: "rotator-test-secret-key" };
    const connection = async () => ({
      server: bed!.proxyUrl,
      caData: bed!.caData,
      token: (await createEksToken({ clusterName: bed!.clusterName, region: bed!.region, credentials })).token,
    });
    const target = { namespaces: { mode: "selector", labelSelector: "bench=diagnose" }, configuredHosts: [HOST], pullSecretName: "ecr-pull-secret" };
    bed.proxy.setLatency(LATENCY_MS);

    // Warm-up (the API server's caches, the webhook): one diagnosis, not counted.
    await runChild(runner, { connection: await connection(), target, mode: "diagnose" });

    // Three rounds, each the baseline then the diagnosis; the medians are reported (the machine
    // is shared: the baseline, measured beside each run, shows how loaded it was).
    type Run = {
      wallMs: number;
      stuck: number;
      listed: number;
      summary: Array<{ code: string; containers: number; namespaces: string[] }>;
      errors: string[];
      requests: number;
      maxRssKb: number;
    };
    const bases: number[] = [];
    const walls: number[] = [];
    let baseRequests = 0;
    let run: Run | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      bed.proxy.resetCounts();
      bases.push((await runChild<{ wallMs: number; items: number }>(runner, { connection: await connection(), target, mode: "baseline" })).wallMs);
      baseRequests = bed.proxy.requestCount();
      bed.proxy.resetCounts();
      run = await runChild<Run>(runner, { connection: await connection(), target, mode: "diagnose" });
      walls.push(run.wallMs);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const base = { wallMs: median(bases) };
    run = { ...run!, wallMs: median(walls) };
    const log2 = bed.proxy.requests();
    const lists = log2.filter((r) => r.method === "GET" && isList(r.path)).length;
    const gets = log2.filter((r) => r.method === "GET" && !isList(r.path));
    const distinctGets = new Set(gets.map((r) => r.path)).size;
    if (run.errors.length > 0) throw new Error(`diagnosis errors: ${run.errors.join("; ")}`);
    if (run.stuck !== STUCK) throw new Error(`expected ${STUCK} stuck containers, diagnosed ${run.stuck}`);

    const diagnose = { namespaces: N, stuckPods: run.stuck, wallMs: Math.round(run.wallMs), requests: log2.length };
    if (JSON_OUT) {
      process.stdout.write(
        `${JSON.stringify({ diagnose: { ...diagnose, listPages: lists, gets: gets.length, distinctGets, baselineListMs: Math.round(base.wallMs), baselineListRequests: baseRequests, peakRssMb: Math.round((run.maxRssKb / 1024) * 10) / 10 } })}\n`,
      );
    } else {
      log(`diagnosis (bundled, product's EKS token, through the proxy):`);
      log(
        `  wall time      ${diagnose.wallMs} ms (median of ${ROUNDS}; target ≤ 2000 ms); baseline, the LIST pages alone: ${Math.round(base.wallMs)} ms in ${baseRequests} requests`,
      );
      log(
        `  requests       ${diagnose.requests} = ${lists} LIST pages + ${gets.length} GETs of ${distinctGets} distinct Secrets (target ≤ LIST pages + one GET per distinct Secret/ServiceAccount)`,
      );
      log(
        `  stuck          ${run.stuck} containers, ${run.listed} listed; by cause: ${run.summary.map((c) => `${c.containers} ${c.code} (${c.namespaces.length} ns)`).join(", ")}`,
      );
      log(`  peak RSS       ${Math.round((run.maxRssKb / 1024) * 10) / 10} MB (diagnosis process, bundled, node defaults)`);
    }
  } finally {
    await bed?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`diagnose-incident: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
