/**
 * Heal fan-out benchmark: applyToCluster against the real kube-apiserver of the test bed with
 * N namespaces (default 1,000) and a fixed latency added to every request by the bed's proxy.
 *
 *   npm run bench  (or: node .bench/heal-fanout.mjs after one npm run bench) [--json] [--namespaces 1000] [--latency-ms 5] [--concurrency 16]
 *
 * Setup (untimed): start the bed, create the namespaces with the admin identity (directly, not
 * through the proxy), run the engine once (creates every Secret). Measured: a second run with a
 * new token — the steady state of a heal: one PATCH per namespace plus the paginated LISTs.
 * The engine runs in a child process from an esbuild bundle (as in Lambda), authenticated by the
 * product's own EKS token, so its peak RSS is the product's alone. Requests are counted at the
 * proxy. Targets: ≤ 3 s wall, ≤ one request per namespace + a handful of LISTs, ≤ 128 MB RSS.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { nodeBundleOptions } from "../scripts/esbuild-options.mjs";
import { createEksToken } from "../src/eks/token";
import { startBed, type Bed } from "../test/bed";
import { arg, benchPassword, createNamespaces, JSON_OUT, lambdaHeapFlags, log, ROOT, runChild } from "./bench-support";

const N = arg("namespaces", 1000);
const LATENCY_MS = arg("latency-ms", 5);
const CONCURRENCY = arg("concurrency", 16);
const LAMBDA_MEMORY_MB = arg("lambda-memory-mb", 128);

/** Bundles the engine like the Lambda bundle and returns the path of a runner script. */
async function bundleRunner(dir: string): Promise<string> {
  const entry = join(dir, "runner.ts");
  writeFileSync(
    entry,
    `import { applyToCluster } from ${JSON.stringify(join(ROOT, "src/kube/apply.ts"))};
const startRssMb = process.memoryUsage().rss / 1048576;
let peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sampler = process.env.BENCH_SAMPLE ? setInterval(() => { const m = process.memoryUsage(); if (m.rss > peak.rss) peak = { rss: m.rss / 1048576, heapTotal: m.heapTotal / 1048576, heapUsed: m.heapUsed / 1048576, external: m.external / 1048576, arrayBuffers: m.arrayBuffers / 1048576 }; }, 20) : undefined;
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { connection, logins, target } = JSON.parse(input);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let listedMs = 0;
const result = await applyToCluster(connection, logins, target, { onProgress: (done) => { if (done === 0) listedMs = performance.now() - t0; } });
const wallMs = performance.now() - t0;
if (sampler) { clearInterval(sampler); process.stderr.write("memory: start rss " + startRssMb.toFixed(1) + " MB, at peak " + JSON.stringify(peak) + String.fromCharCode(10)); }
const failed = result.namespaces.filter((n) => n.outcome === "failed").slice(0, 3);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ wallMs, listedMs, cpuMs: (cpu.user + cpu.system) / 1000, maxRssKb: process.resourceUsage().maxRSS, counts: result.counts, requests: result.requests, ok: result.ok, errors: result.errors, failed }));
`,
  );
  const out = join(dir, "runner.mjs");
  // Bundled like the Lambda handler (shared esbuild settings).
  await build({ ...nodeBundleOptions, entryPoints: [entry], outfile: out, logLevel: "error" });
  return out;
}

interface RunOutput {
  wallMs: number;
  cpuMs: number;
  listedMs: number;
  maxRssKb: number;
  counts: Record<string, number>;
  requests: number;
  ok: boolean;
  errors: string[];
  failed: unknown[];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "heal-fanout-"));
  let bed: Bed | undefined;
  try {
    log(`heal fan-out: ${N} namespaces, +${LATENCY_MS} ms per request at the proxy, concurrency ${CONCURRENCY}`);
    const [runner, started] = await Promise.all([bundleRunner(dir), startBed({ rbacManifests: ["infra/k8s/components/fallback/rbac.yaml"] })]);
    bed = started;
    const names = Array.from({ length: N }, (_, i) => `bench-${String(i).padStart(4, "0")}`);
    const t0 = Date.now();
    await createNamespaces(bed, names, () => ({ bench: "heal-fanout" }));
    log(`setup: ${N} namespaces created in ${Date.now() - t0} ms`);

    const credentials = { accessKeyId: "AKIAROTATORTESTKEY01", secretAccessKey: "rotator-test-secret-key" };
    const token = async () => (await createEksToken({ clusterName: bed!.clusterName, region: bed!.region, credentials })).token;
    const host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    // A real ECR password is ~2.5 KB (base64 of a JSON envelope): the secrets are as large as in production.
    const password = benchPassword;
    const target = {
      cluster: bed.clusterName,
      namespaces: { mode: "selector", labelSelector: "bench=heal-fanout" },
      pullSecretName: "ecr-pull-secret",
      patchServiceAccounts: [],
      concurrency: CONCURRENCY,
      adoptUnmanaged: false,
      dryRun: false,
    };
    const connection = async () => ({ server: bed!.proxyUrl, caData: bed!.caData, token: await token() });
    bed.proxy.setLatency(LATENCY_MS);

    const first = await runChild<RunOutput>(runner, { connection: await connection(), logins: [{ host, username: "AWS", password: password("one") }], target });
    log(`first run (creates): ${first.wallMs.toFixed(0)} ms, ${JSON.stringify(first.counts)}, ${first.requests} requests`);
    if (!first.ok) throw new Error(`first run failed: ${JSON.stringify({ errors: first.errors, failed: first.failed })}`);

    bed.proxy.resetCounts();
    const parentCpu0 = process.cpuUsage();
    const flags = lambdaHeapFlags(LAMBDA_MEMORY_MB);
    const steady = await runChild<RunOutput>(
      runner,
      { connection: await connection(), logins: [{ host, username: "AWS", password: password("two") }], target },
      flags,
    );
    const requests = bed.proxy.requestCount();
    if (!steady.ok) throw new Error(`steady run failed: ${JSON.stringify({ errors: steady.errors, failed: steady.failed })}`);
    if (steady.counts.updated !== N) throw new Error(`expected ${N} updates, got ${JSON.stringify(steady.counts)}`);

    const heal = { namespaces: N, wallMs: Math.round(steady.wallMs), requests, peakRssMb: Math.round((steady.maxRssKb / 1024) * 10) / 10 };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify({ heal })}\n`);
    } else {
      log(`steady state (new token, secrets exist):`);
      log(`  wall time      ${heal.wallMs} ms          (target ≤ 3000 ms)`);
      log(`  requests       ${heal.requests} at the proxy (${N} PATCH + ${heal.requests - N} LIST/other; target ≤ ${N} + a handful)`);
      log(`  peak RSS       ${heal.peakRssMb} MB         (target ≤ 128 MB; engine process, bundled, node ${flags.join(" ") || "defaults"})`);
      const parentCpu = process.cpuUsage(parentCpu0);
      log(
        `  LISTs done at  ${Math.round(steady.listedMs)} ms; CPU: engine ${Math.round(steady.cpuMs)} ms, bench process (proxy) ${Math.round((parentCpu.user + parentCpu.system) / 1000)} ms`,
      );
      log(`  engine count   ${steady.requests} requests`);
    }
  } finally {
    await bed?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`heal-fanout: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
