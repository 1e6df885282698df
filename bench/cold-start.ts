/**
 * Cold start under the real Lambda runtime: the packaged zip (scripts/package.mjs, the release
 * artifact) unpacked and started under the AWS Lambda Runtime Interface Emulator with AWS's
 * Node.js runtime interface client (aws-lambda-ric, as in the nodejs22.x images; the same harness
 * as test/runtime), one cold start per RIE process. Each cold start is one scheduled rotate
 * against moto that writes a new version (ECR issues a new token each time, through the fault
 * proxy in front of moto; the schedule's input carries force so the write debounce does not keep
 * the previous version). Beside it, the same figures for a bare handler written here: the ECR and
 * Secrets Manager clients created at module scope, the same AWS calls the product makes on that
 * path (checked against the proxy's log), bundled with the product's esbuild settings.
 * Interleaved (product, bare, product, …), median of --runs (default 7) cold starts each.
 *
 * Figures from the RIE's own log lines: `INIT REPORT(durationMs: …)` (init: the runtime client
 * loading the handler module) and `INVOKE RTDONE(… duration: …)` (the first invocation).
 *
 *   npm run bench (or: node .bench/cold-start/cold-start.mjs after one npm run bench) [--json] [--runs N]
 * Prints medians and every run; asserts nothing.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { build } from "esbuild";
import { REPO, scratch, unzip } from "../test/deploy/support";
import { startLambdaRuntime } from "../test/support/lambda-runtime";
import { startProxiedMoto, type ProxiedMoto } from "../test/support/moto-proxy";

const JSON_OUT = process.argv.includes("--json");
const RUNS = (() => {
  const i = process.argv.indexOf("--runs");
  const v = i < 0 ? 7 : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error("--runs needs a positive integer");
  return v;
})();
const REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const PRODUCT_SECRET = "ecr/123456789012/us-east-1/credentials";
const BARE_SECRET = "bench/bare/credentials";
/** The scheduled rotation's input (EventBridge Scheduler), with force: every cold start writes. */
const SCHEDULED_ROTATE = { action: "rotate", source: "schedule", force: true };
const log = (msg: string): void => {
  (JSON_OUT ? process.stderr : process.stdout).write(`${msg}\n`);
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number) => Math.round(x * 10) / 10;

/**
 * The bare handler: what any function rotating one ECR token into Secrets Manager does, nothing
 * else — clients at module scope; GetAuthorizationToken, DescribeSecret, GetSecretValue,
 * PutSecretValue (the product's calls on this path).
 */
const BARE_HANDLER = `
import { randomUUID } from "node:crypto";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
const ecr = new ECRClient({});
const sm = new SecretsManagerClient({});
export const handler = async () => {
  const data = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData[0];
  const [username, password] = Buffer.from(data.authorizationToken, "base64").toString("utf8").split(":");
  const SecretId = process.env.SECRET_NAME;
  await sm.send(new DescribeSecretCommand({ SecretId }));
  const current = await sm.send(new GetSecretValueCommand({ SecretId }));
  const value = JSON.stringify({ registry_url: new URL(data.proxyEndpoint).host, username, password, auth_token: password, expires_at: data.expiresAt.toISOString() });
  if (current.SecretString === value) return { outcome: "unchanged" };
  const put = await sm.send(new PutSecretValueCommand({ SecretId, SecretString: value, ClientRequestToken: randomUUID() }));
  return { outcome: "updated", versionId: put.VersionId };
};
`;

interface Subject {
  name: "product" | "bare";
  taskRoot: string;
  handler: string;
  env: Record<string, string>;
}
interface ColdStart {
  initMs: number;
  firstInvokeMs: number;
  /** The AWS operations of the invocation, in order (from the proxy's log). */
  operations: string[];
  outcome: string;
}

/** The release zip, built by scripts/package.mjs into `dir`, unpacked: its task root. */
async function packagedTaskRoot(dir: string): Promise<string> {
  execFileSync(process.execPath, [join(REPO, "scripts/package.mjs"), "--out", join(dir, "dist")], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  const zip = readdirSync(join(dir, "dist")).find((f) => f.endsWith(".zip"));
  if (zip === undefined) throw new Error("scripts/package.mjs wrote no zip");
  const root = join(dir, "product");
  await unzip(join(dir, "dist", zip), root);
  return root;
}

async function bareTaskRoot(dir: string): Promise<string> {
  const root = join(dir, "bare");
  mkdirSync(root, { recursive: true });
  const entry = join(dir, "bare-handler.mjs");
  writeFileSync(entry, BARE_HANDLER);
  const { nodeBundleOptions } = (await import(join(REPO, "scripts/esbuild-options.mjs"))) as { nodeBundleOptions: Record<string, unknown> };
  await build({ ...nodeBundleOptions, entryPoints: [entry], outfile: join(root, "index.mjs"), absWorkingDir: REPO, nodePaths: [join(REPO, "node_modules")] });
  return root;
}

/** A new token from ECR for the next GetAuthorizationToken (moto's is fixed), valid 12 h. */
function issueToken(aws: ProxiedMoto, n: number): void {
  const password = `bench-token-${n}-${Math.random().toString(36).slice(2)}`;
  const body = JSON.stringify({
    authorizationData: [
      {
        authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"),
        expiresAt: Math.floor(Date.now() / 1000) + 12 * 3600,
        proxyEndpoint: `https://${REGISTRY}`,
      },
    ],
  });
  aws.proxy.addFault({
    fault: { kind: "status", status: 200, body, contentType: "application/x-amz-json-1.1" },
    match: { operation: "GetAuthorizationToken" },
    times: 1,
  });
}

const INIT = /INIT REPORT\(durationMs:\s*([\d.]+)\)/;
const RTDONE = /INVOKE RTDONE\([^)]*duration:\s*([\d.]+)/;

async function coldStart(aws: ProxiedMoto, subject: Subject, n: number): Promise<ColdStart> {
  issueToken(aws, n);
  const before = aws.proxy.requests().length;
  // LOG_LEVEL is the RIE's: at info it writes the INIT REPORT and INVOKE RTDONE lines.
  const fn = await startLambdaRuntime({ taskRoot: subject.taskRoot, handler: subject.handler, timeoutSeconds: 30, env: { ...subject.env, LOG_LEVEL: "info" } });
  try {
    const out = await fn.invoke(subject.name === "product" ? SCHEDULED_ROTATE : {});
    const result = out.result as { registries?: Array<{ outcome: string }>; outcome?: string; ok?: boolean } | undefined;
    const outcome =
      subject.name === "product" ? (result?.registries?.[0]?.outcome ?? `failed: ${out.body.slice(0, 300)}`) : (result?.outcome ?? out.body.slice(0, 300));
    const text = fn.output();
    const init = INIT.exec(text);
    const done = RTDONE.exec(text);
    if (!init || !done) throw new Error(`${subject.name}: the RIE logged no INIT REPORT / INVOKE RTDONE line:\n${text.slice(-3000)}`);
    const operations = aws.proxy
      .requests()
      .slice(before)
      .map((r) => r.operation ?? `${r.method} ${r.path}`);
    return { initMs: Number(init[1]), firstInvokeMs: Number(done[1]), operations, outcome };
  } finally {
    await fn.stop();
  }
}

async function main(): Promise<void> {
  const work = scratch("ecr-rotator-cold-");
  const aws = await startProxiedMoto();
  try {
    log(`cold start: packaging the function and bundling the bare handler (${RUNS} cold starts each, interleaved)...`);
    const env = { ...aws.env(), ECR_REGISTRIES: REGISTRY };
    const product: Subject = { name: "product", taskRoot: await packagedTaskRoot(work.dir), handler: "handlers/rotate.handler", env };
    const bare: Subject = { name: "bare", taskRoot: await bareTaskRoot(work.dir), handler: "index.handler", env: { ...env, SECRET_NAME: BARE_SECRET } };
    // Untimed: the product's first rotation creates its secret; the bare one's is created here.
    const first = await coldStart(aws, product, 0);
    if (first.outcome !== "created") throw new Error(`the first rotation did not create ${PRODUCT_SECRET}: ${first.outcome}`);
    const sm = new SecretsManagerClient({ region: "us-east-1", endpoint: aws.moto.url, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    await sm.send(new CreateSecretCommand({ Name: BARE_SECRET, SecretString: "{}" }));
    const runs: Record<"product" | "bare", ColdStart[]> = { product: [], bare: [] };
    for (let i = 1; i <= RUNS; i++) {
      for (const subject of [product, bare]) {
        const run = await coldStart(aws, subject, i);
        if (run.outcome !== "updated") throw new Error(`${subject.name} cold start ${i} wrote no new version: ${run.outcome}`);
        runs[subject.name].push(run);
        log(`  ${subject.name} #${i}: init ${run.initMs} ms, first invocation ${run.firstInvokeMs} ms (${run.operations.join(", ")})`);
      }
    }
    const figures = (xs: ColdStart[]) => ({ initMs: round(median(xs.map((r) => r.initMs))), firstInvokeMs: round(median(xs.map((r) => r.firstInvokeMs))) });
    const p = figures(runs.product);
    const b = figures(runs.bare);
    const coldStartResult = {
      ...p,
      bare: b,
      initRatio: Math.round((p.initMs / b.initMs) * 100) / 100,
      firstInvokeRatio: Math.round((p.firstInvokeMs / b.firstInvokeMs) * 100) / 100,
      runs: RUNS,
      operations: { product: runs.product[0]!.operations, bare: runs.bare[0]!.operations },
      samples: {
        product: runs.product.map(({ initMs, firstInvokeMs }) => ({ initMs, firstInvokeMs })),
        bare: runs.bare.map(({ initMs, firstInvokeMs }) => ({ initMs, firstInvokeMs })),
      },
    };
    if (JSON_OUT) console.log(JSON.stringify({ coldStart: coldStartResult }));
    else
      console.log(
        `cold start (RIE + aws-lambda-ric, median of ${RUNS}): init ${p.initMs} ms vs bare ${b.initMs} ms (${coldStartResult.initRatio} ×), first invocation ${p.firstInvokeMs} ms vs bare ${b.firstInvokeMs} ms (${coldStartResult.firstInvokeRatio} ×)`,
      );
  } finally {
    await aws.stop();
    work.cleanup();
  }
}

await main();
