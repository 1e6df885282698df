/**
 * Fleet-scale benchmark on the test bed's real kube-apiserver, +5 ms per request at a proxy.
 *
 *   npm run bench  (or: node .bench/fleet-scale.mjs after one npm run bench) [--json] [--namespaces 10000] [--clusters 4] [--per-cluster 1000]
 *
 * heal10k: the product's Kubernetes step (a heal of one cluster, bundled like the Lambda, run in
 *   a child process with the Lambda heap flags) over 10,000 namespaces whose pull Secrets exist,
 *   with a new token: one PATCH per namespace plus the LISTs. Requests are counted at the proxy.
 *   baselineMs: right before, in the same process tree on the same bed, a bare loop of PATCHes
 *   (node:https, the same concurrency, the same Secrets, the same new-sized value) — the floor
 *   any implementation pays. Targets: wall ≤ 1.5 × baseline, requests ≤ N + 30, RSS ≤ 128 MB.
 * fleet: the same step with 4 cluster entries × 1,000 namespaces (KUBE_CLUSTER_CONCURRENCY 4)
 *   against one cluster entry holding the same 4,000 namespaces, in the same run. The bed has
 *   one API server, so each entry reaches it through its own proxy that rewrites the namespace
 *   label selector to that entry's quarter (distinct namespaces per entry), and its cluster-wide
 *   pull-Secret LIST to that quarter's Secrets (labelled so after the untimed seeding), so each
 *   entry sees 1,000 namespaces and 1,000 Secrets as a real cluster would; the single entry goes
 *   through an equal proxy without rewrites. Target: wall ≤ 1.3 × single.
 * Setup (untimed): namespaces created straight at the API server (64 POSTs at once), then one
 * step run per scenario without added latency creates the Secrets.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { nodeBundleOptions, splitOptions } from "../scripts/esbuild-options.mjs";
import { createEksToken } from "../src/eks/token";
import { FaultProxy, startBed, type Bed } from "../test/bed";
import { benchPassword, createNamespaces, labelSecrets, lambdaHeapFlags, ROOT, runChild } from "./bench-support";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive whole number`);
  return v;
}
const JSON_OUT = process.argv.includes("--json");
/** `--only fleet` skips heal10k (namespaces: only the fleet's are created). */
const ONLY_FLEET = process.argv.includes("--only") && process.argv[process.argv.indexOf("--only") + 1] === "fleet";
const N = arg("namespaces", 10000);
const CLUSTERS = arg("clusters", 4);
const PER_CLUSTER = arg("per-cluster", 1000);
const LATENCY_MS = 5;
const CONCURRENCY = 16; // KUBE_CONCURRENCY's default
const LAMBDA_MEMORY_MB = 128;
const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const HEAL_SECRET = "ecr-pull-secret";
const FLEET_SECRET = "fleet-pull-secret";
const log = (msg: string): void => void (JSON_OUT ? process.stderr : process.stdout).write(`${msg}\n`);

/** The child: a bare PATCH loop (baseline) or the product's Kubernetes step (heal). */
async function bundleRunner(dir: string): Promise<string> {
  const entry = join(dir, "fleet-runner.ts");
  writeFileSync(
    entry,
    `import { Agent, request } from "node:https";
import { createKubernetesStep } from ${JSON.stringify(join(ROOT, "src/clusters/step.ts"))};
import { loadConfig } from ${JSON.stringify(join(ROOT, "src/config/config.ts"))};
const startRssKb = process.memoryUsage().rss / 1024;
let input = "";
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const t0 = performance.now();
let out;
if (job.mode === "baseline") {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency, ca: Buffer.from(job.caData, "base64") });
  const url = new URL(job.server);
  const auth = Buffer.from("AWS:" + job.password).toString("base64");
  const config = Buffer.from(JSON.stringify({ auths: { [job.host]: { username: "AWS", password: job.password, auth } } })).toString("base64");
  const body = JSON.stringify({ data: { ".dockerconfigjson": config } });
  let next = 0;
  let failed = 0;
  const patch = (ns) => new Promise((ok, fail) => {
    const req = request({ agent, host: url.hostname, port: url.port, method: "PATCH", path: "/api/v1/namespaces/" + ns + "/secrets/" + job.secretName,
      headers: { authorization: "Bearer " + job.token, "content-type": "application/merge-patch+json" } }, (res) => {
      res.resume();
      res.on("end", () => { if (res.statusCode !== 200) failed++; ok(); });
    });
    req.on("error", fail);
    req.end(body);
  });
  await Promise.all(Array.from({ length: job.concurrency }, async () => { while (next < job.namespaces.length) await patch(job.namespaces[next++]); }));
  agent.destroy();
  out = { wallMs: performance.now() - t0, failed };
} else {
  const step = createKubernetesStep(loadConfig(job.env), { access: async (cluster) => ({ server: job.servers[cluster.name], caData: job.caData, token: job.token }) });
  const credentials = [{ registry: { host: job.host, accountId: "123456789012", region: "us-east-1" }, username: "AWS", password: job.password, expiresAt: new Date(Date.now() + 12 * 3600e3), proxyEndpoint: "https://" + job.host }];
  const report = await step({ request: { action: "heal", trigger: { kind: "manual", via: "manual" }, dryRun: false, force: false }, credentials, reason: "heal" });
  const outcomes = {};
  for (const c of report.clusters) for (const n of c.namespaces) outcomes[n.outcome] = (outcomes[n.outcome] ?? 0) + 1;
  out = { wallMs: performance.now() - t0, outcomes, clusters: report.clusters.map((c) => ({ cluster: c.cluster, ok: c.ok, error: c.error, namespaces: c.namespaces.length, requests: c.requests })) };
}
out.maxRssKb = process.resourceUsage().maxRSS;
out.startRssKb = startRssKb;
process.stdout.write(JSON.stringify(out));
`,
  );
  // Split like the Lambda bundle (scripts/build.mjs): lazily imported modules — the optional
  // @kubernetes/client-node adapter, ~4 MB — stay in chunks that a default heal never loads.
  // (One unsplit file parsed them all: +33 MB RSS before the heal did anything.)
  const outdir = join(dir, "runner");
  await build({ ...nodeBundleOptions, ...splitOptions, entryPoints: { "fleet-runner": entry }, outdir, logLevel: "error" });
  return join(outdir, "fleet-runner.mjs");
}

interface StepOutput {
  wallMs: number;
  maxRssKb: number;
  startRssKb: number;
  outcomes: Record<string, number>;
  clusters: Array<{ cluster: string; ok: boolean; error?: string; namespaces: number }>;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-scale-"));
  let bed: Bed | undefined;
  const proxies: FaultProxy[] = [];
  try {
    const fleetTotal = CLUSTERS * PER_CLUSTER;
    if (fleetTotal > N) throw new Error(`--clusters × --per-cluster (${fleetTotal}) must not exceed --namespaces (${N})`);
    log(`fleet scale: ${N} namespaces (heal10k), ${CLUSTERS} × ${PER_CLUSTER} (fleet), +${LATENCY_MS} ms per request, concurrency ${CONCURRENCY}`);
    const [runner, started] = await Promise.all([bundleRunner(dir), startBed({ rbacManifests: ["infra/k8s/components/fallback/rbac.yaml"] })]);
    bed = started;
    const b = bed;
    // The first CLUSTERS × PER_CLUSTER namespaces also belong to the fleet, a quarter each.
    const names = Array.from({ length: ONLY_FLEET ? CLUSTERS * PER_CLUSTER : N }, (_, i) => `h-${String(i).padStart(5, "0")}`);
    let t0 = Date.now();
    await createNamespaces(b, names, (_, i) => ({ bench: "heal10k", ...(i < fleetTotal ? { fleet: `p${i % CLUSTERS}` } : {}) }), 64);
    log(`setup: ${names.length} namespaces created in ${Date.now() - t0} ms`);

    const credentials = { accessKeyId: "AKIAROTATORTESTKEY01", secretAccessKey: "rotator-test-secret-key" };
    const token = async () => (await createEksToken({ clusterName: b.clusterName, region: b.region, credentials })).token;
    const env = (clusters: Record<string, string>, selector: string, secret: string) => ({
      AWS_REGION: "us-east-1",
      ECR_REGISTRIES: HOST,
      EKS_CLUSTERS: JSON.stringify(Object.entries(clusters).map(([name, endpoint]) => ({ name, region: "us-east-1", endpoint, caData: b.caData }))),
      NAMESPACE_SELECTOR: selector,
      PULL_SECRET_NAME: secret,
      KUBE_CONCURRENCY: String(CONCURRENCY),
      KUBE_CLUSTER_CONCURRENCY: String(CLUSTERS),
    });
    const heal = async (clusters: Record<string, string>, selector: string, secret: string, tag: string, flags: string[] = []) => {
      const out = await runChild<StepOutput>(
        runner,
        {
          mode: "step",
          env: env(clusters, selector, secret),
          servers: clusters,
          caData: b.caData,
          token: await token(),
          host: HOST,
          password: benchPassword(tag),
        },
        flags,
      );
      const bad = out.clusters.filter((c) => !c.ok);
      if (bad.length > 0) throw new Error(`heal failed: ${JSON.stringify(bad.slice(0, 3))}`);
      return out;
    };
    const flags = lambdaHeapFlags(LAMBDA_MEMORY_MB);

    // ---- heal10k ----
    let heal10k: { namespaces: number; wallMs: number; requests: number; peakRssMb: number; baselineMs: number } | undefined;
    if (!ONLY_FLEET) {
      b.proxy.setLatency(0);
      t0 = Date.now();
      await heal({ bed: b.proxyUrl }, "bench=heal10k", HEAL_SECRET, "seed");
      log(`setup: ${N} pull Secrets created in ${Date.now() - t0} ms`);
      b.proxy.setLatency(LATENCY_MS);
      const baseline = await runChild<{ wallMs: number; failed: number }>(runner, {
        mode: "baseline",
        server: b.proxyUrl,
        caData: b.caData,
        token: await token(),
        host: HOST,
        password: benchPassword("base"),
        secretName: HEAL_SECRET,
        namespaces: names,
        concurrency: CONCURRENCY,
      });
      if (baseline.failed > 0) throw new Error(`baseline: ${baseline.failed} PATCHes failed`);
      b.proxy.resetCounts();
      const steady = await heal({ bed: b.proxyUrl }, "bench=heal10k", HEAL_SECRET, "two", flags);
      const requests = b.proxy.requestCount();
      if (steady.outcomes.updated !== N) throw new Error(`expected ${N} updates, got ${JSON.stringify(steady.outcomes)}`);
      heal10k = {
        namespaces: N,
        wallMs: Math.round(steady.wallMs),
        requests,
        peakRssMb: Math.round((steady.maxRssKb / 1024) * 10) / 10,
        baselineMs: Math.round(baseline.wallMs),
      };
      log(`heal10k: ${JSON.stringify(heal10k)}`);
      log(
        `  wall ${(heal10k.wallMs / heal10k.baselineMs).toFixed(2)} × baseline (target ≤ 1.5); requests N + ${requests - N} (target ≤ N + 30); RSS target ≤ 128 MB (${flags.join(" ")}; ${Math.round(steady.startRssKb / 1024)} MB at the runner's start)`,
      );
    }

    // ---- fleet ----
    const pki = join(b.dir, "pki");
    const tls = { cert: readFileSync(join(pki, "serving.crt")), key: readFileSync(join(pki, "serving.key")) };
    const proxy = async (rewriteUrl?: (url: string) => string) => {
      const p = await FaultProxy.start({ target: b.apiServerUrl, targetCa: b.caPem, tls, control: false, ...(rewriteUrl ? { rewriteUrl } : {}) });
      proxies.push(p);
      return p;
    };
    const single = { single: (await proxy()).url };
    const fleet: Record<string, string> = {};
    for (let i = 0; i < CLUSTERS; i++) {
      const ownQuarter = (url: string) =>
        url.startsWith("/api/v1/secrets?") ? `${url}&labelSelector=fleet%3Dp${i}` : url.replace(/labelSelector=fleet(?=&|$)/, `labelSelector=fleet%3Dp${i}`);
      fleet[`c${i}`] = (await proxy(ownQuarter)).url;
    }
    t0 = Date.now();
    await heal(single, "fleet", FLEET_SECRET, "seed");
    await labelSecrets(b, names.slice(0, fleetTotal), FLEET_SECRET, (i) => ({ fleet: `p${i % CLUSTERS}` }), 64);
    log(`setup: ${fleetTotal} fleet pull Secrets created and labelled in ${Date.now() - t0} ms`);
    for (const p of proxies) p.setLatency(LATENCY_MS);
    const one = await heal(single, "fleet", FLEET_SECRET, "three", flags);
    if (one.outcomes.updated !== fleetTotal) throw new Error(`single: expected ${fleetTotal} updates, got ${JSON.stringify(one.outcomes)}`);
    const many = await heal(fleet, "fleet", FLEET_SECRET, "four", flags);
    if (many.outcomes.updated !== fleetTotal || many.clusters.some((c) => c.namespaces !== PER_CLUSTER))
      throw new Error(`fleet: expected ${PER_CLUSTER} updates per cluster, got ${JSON.stringify(many.outcomes)} ${JSON.stringify(many.clusters)}`);
    const fleetResult = { clusters: CLUSTERS, namespaces: fleetTotal, wallMs: Math.round(many.wallMs), singleMs: Math.round(one.wallMs) };
    log(`fleet: ${JSON.stringify(fleetResult)}`);
    log(`  wall ${(fleetResult.wallMs / fleetResult.singleMs).toFixed(2)} × single (target ≤ 1.3)`);

    if (JSON_OUT) process.stdout.write(`${JSON.stringify({ ...(heal10k ? { heal10k } : {}), fleet: fleetResult })}\n`);
  } finally {
    for (const p of proxies) await p.stop().catch(() => undefined);
    await bed?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet-scale: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
