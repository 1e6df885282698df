/**
 * The function under the real AWS Lambda runtime contract, on 127.0.0.1:
 *   - the AWS Lambda Runtime Interface Emulator (RIE; scripts/build-lambda-runtime.sh builds and
 *     caches it, and the runtime client below) serves the invoke endpoint and the Runtime API, enforces the function timeout
 *     (AWS_LAMBDA_FUNCTION_TIMEOUT) and passes the deadline to the runtime;
 *   - the runtime is AWS's own Node.js runtime interface client (`aws-lambda-ric`, the one in the
 *     nodejs22.x images) on Node 22, loading the handler from LAMBDA_TASK_ROOT the way Lambda
 *     does, so `context.getRemainingTimeInMillis()` counts down to the RIE's real deadline;
 *   - LAMBDA_TASK_ROOT is the packaged function: the zip `osls package` produces (test/deploy),
 *     unpacked.
 *
 *   const fn = await startPackagedFunction({ timeoutSeconds: 3, env: { ...motoEnv(url), ECR_REGISTRIES: "…" } });
 *   const out = await fn.invoke({ action: "rotate", dryRun: true });   // out.result: the Report
 *   await fn.stop();
 *
 * A deadline test is a few lines: a silent endpoint from the fault proxy (test/support/moto-proxy.ts
 * in front of moto, or the bed's proxy in front of kube-apiserver), a short function timeout:
 *
 *   const aws = await startProxiedMoto();
 *   aws.proxy.hang({ match: { method: "GET", path: "/clusters/*" } });      // EKS never answers
 *   const fn = await startPackagedFunction({ timeoutSeconds: 3, env: { ...aws.env(), EKS_CLUSTERS: "prod-a" } });
 *   const out = await fn.invoke({ action: "heal" });
 *   // out.timedOut === false; out.result (or out.errorType) carries the Report's skipped work
 *
 * The RIE starts the runtime lazily on the first invocation (the cold start) and re-initialises it
 * after a timeout, like Lambda. Only the given environment reaches the function (plus what Lambda
 * itself sets), never the test process's own.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageService, REPO, scratch, unzip } from "../deploy/support";
import { PortClashError, saysAddressInUse, startOnFreePorts, waitFor } from "./ports";

export interface LambdaRuntimeOptions {
  /** The unpacked function code (LAMBDA_TASK_ROOT; also the runtime's working directory). */
  taskRoot: string;
  /** Handler setting, e.g. `handlers/rotate.handler` (as in the function configuration). */
  handler: string;
  /** Function timeout in seconds (AWS_LAMBDA_FUNCTION_TIMEOUT); default 30. */
  timeoutSeconds?: number;
  /** The function's environment variables (configuration, AWS endpoint and credentials). */
  env?: Record<string, string>;
  memoryMb?: number;
  functionName?: string;
}

export interface Invocation {
  /** HTTP status of the invoke endpoint (the RIE answers 200 for errors and timeouts too). */
  status: number;
  /** The raw response payload. */
  body: string;
  /** The payload parsed as JSON (undefined when it is not JSON, e.g. the timeout message). */
  result: unknown;
  /** Set when the handler threw: the error type the runtime reported (e.g. RunFailedError). */
  errorType?: string;
  /** The RIE ended the invocation at the function timeout ("Task timed out after N seconds"). */
  timedOut: boolean;
  /** Wall-clock milliseconds of the invoke request. */
  ms: number;
}

export interface LambdaRuntime {
  /** http://127.0.0.1:PORT — the invoke endpoint's base URL. */
  url: string;
  timeoutSeconds: number;
  /** POST /2015-03-31/functions/function/invocations with `event` as the payload. */
  invoke(event: unknown): Promise<Invocation>;
  /** Everything the RIE and the function wrote to stdout/stderr so far (the function's logs). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The cached RIE binary and runtime interface client (scripts/build-lambda-runtime.sh builds them on
 * first use; fast when cached).
 */
export function lambdaRuntimeBuild(): { rie: string; ricEntry: string } {
  const res = spawnSync("sh", [join(REPO, "scripts", "build-lambda-runtime.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (res.status !== 0) throw new Error(`scripts/build-lambda-runtime.sh failed (exit ${res.status}); see its messages above`);
  const need = (key: string) => {
    const value = new RegExp(`^${key}=(.+)$`, "m").exec(res.stdout)?.[1];
    if (!value) throw new Error(`scripts/build-lambda-runtime.sh printed no ${key}= line`);
    return value;
  };
  const ricEntry = join(need("LAMBDA_RIC"), "index.mjs");
  if (!existsSync(ricEntry)) throw new Error(`${ricEntry} is missing: remove its directory and run scripts/build-lambda-runtime.sh`);
  return { rie: need("LAMBDA_RIE"), ricEntry };
}

const INVOKE_PATH = "/2015-03-31/functions/function/invocations";

export function startLambdaRuntime(options: LambdaRuntimeOptions): Promise<LambdaRuntime> {
  const build = lambdaRuntimeBuild();
  // The RIE takes its two addresses as arguments: started again on others should one be taken.
  return startOnFreePorts(2, ([port = 0, runtimeApiPort = 0]) => startLambdaRuntimeOn(options, build, { port, runtimeApiPort }));
}

async function startLambdaRuntimeOn(
  options: LambdaRuntimeOptions,
  { rie, ricEntry: ric }: ReturnType<typeof lambdaRuntimeBuild>,
  { port, runtimeApiPort }: { port: number; runtimeApiPort: number },
): Promise<LambdaRuntime> {
  const node = join(REPO, "node_modules", ".bin", "node");
  const timeoutSeconds = options.timeoutSeconds ?? 30;
  const functionName = options.functionName ?? "ecr-token-rotator-test-rotate";
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LAMBDA_TASK_ROOT: options.taskRoot,
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(timeoutSeconds),
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb ?? 256),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
    LOG_LEVEL: "warn", // the RIE's own log level
    ...options.env,
  };
  const child: ChildProcess = spawn(
    rie,
    ["--runtime-interface-emulator-address", `127.0.0.1:${port}`, "--runtime-api-address", `127.0.0.1:${runtimeApiPort}`, node, ric, options.handler],
    { cwd: options.taskRoot, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited || child.pid === undefined) return resolve();
      child.once("exit", () => resolve());
      // The RIE and the runtime it started form one process group.
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          // already gone
        }
      };
      signal("SIGTERM");
      setTimeout(() => signal("SIGKILL"), 3000).unref();
    });
  try {
    // The invoke endpoint answers 405 to a GET once it listens (the runtime starts lazily).
    await waitFor(
      "the Lambda RIE",
      async () => {
        if (exited)
          throw saysAddressInUse(output)
            ? new PortClashError("the Lambda RIE", [port, runtimeApiPort], output)
            : new Error(`the RIE exited:\n${output.slice(-2000)}`);
        await fetch(`${url}${INVOKE_PATH}`, { method: "GET" });
        return !exited;
      },
      15_000,
      50,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    timeoutSeconds,
    async invoke(event) {
      const started = performance.now();
      const res = await fetch(`${url}${INVOKE_PATH}`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
      const body = await res.text();
      const ms = performance.now() - started;
      let result: unknown;
      try {
        result = JSON.parse(body);
      } catch {
        result = undefined;
      }
      const failure = result as { errorType?: unknown; errorMessage?: unknown } | null | undefined;
      const errorType = typeof failure?.errorType === "string" && typeof failure.errorMessage === "string" ? failure.errorType : undefined;
      return { status: res.status, body, result, ...(errorType ? { errorType } : {}), timedOut: /^Task timed out after [\d.]+ seconds$/.test(body.trim()), ms };
    },
    output: () => output,
    stop,
  };
}

export interface PackagedFunction {
  taskRoot: string;
  handler: string;
  zipBytes: number;
  /** Unpacked files (paths relative to taskRoot). */
  files: string[];
}

let packaged: Promise<PackagedFunction> | undefined;
let packagedCleanup: (() => void) | undefined;

/**
 * The function as deployed: `osls package` with the default stage parameters (what
 * test/deploy/package.test.ts checks), the zip unpacked into a scratch directory. Once per test
 * file (worker); removed at process exit.
 */
export function packagedFunction(): Promise<PackagedFunction> {
  packaged ??= (async () => {
    const work = scratch("ecr-rotator-runtime-");
    packagedCleanup = work.cleanup;
    process.once("exit", () => packagedCleanup?.());
    const out = await packageService(work.dir, { stage: "test", region: "us-east-1" });
    const taskRoot = join(work.dir, "task");
    const files = await unzip(out.zipPath, taskRoot);
    const fn = out.template.Resources.RotateLambdaFunction?.Properties as { Handler?: string } | undefined;
    if (!fn?.Handler) throw new Error("the packaged template has no RotateLambdaFunction handler");
    return { taskRoot, handler: fn.Handler, zipBytes: out.zipBytes, files };
  })();
  return packaged;
}

/** The packaged function under the RIE: `env` is its configuration (see LambdaRuntimeOptions). */
export async function startPackagedFunction(
  options: { env?: Record<string, string>; timeoutSeconds?: number; memoryMb?: number } = {},
): Promise<LambdaRuntime> {
  const fn = await packagedFunction();
  return startLambdaRuntime({ taskRoot: fn.taskRoot, handler: fn.handler, ...options });
}
