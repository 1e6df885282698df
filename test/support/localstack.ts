// LocalStack (CloudFormation, IAM, Lambda, CloudWatch, Scheduler, S3, SQS, SNS, Logs) in-process on
// 127.0.0.1 — no Docker, no auth token — for the deploy tests: the virtualenv comes from
// scripts/build-localstack.sh (run by scripts/ensure-test-deps.sh), Lambda functions run in a
// local node process through the runtime-executor plugin of test/support/localstack_node_executor.
//
// LocalStack cannot listen on port 0: a free port is picked and, should another process take it
// first, LocalStack is started again on another (up to three times).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { reservePort, waitFor } from "./ports";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface InvocationRecord {
  function: string;
  requestId: string;
  event: unknown;
  ok: boolean;
  result?: unknown;
  error?: { errorType: string; errorMessage: string };
  logs: string;
}

export interface LocalStack {
  /** http://127.0.0.1:PORT — the endpoint of every service. */
  url: string;
  port: number;
  /** Every function invocation the node executor ran so far. */
  invocations(): InvocationRecord[];
  /** Environment for the AWS CLI / SDK against this LocalStack (dummy credentials). */
  env(region?: string): Record<string, string>;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** Merged over every function's environment (e.g. AWS_ENDPOINT_URL of a moto server). */
  functionEnv?: Record<string, string>;
}

/** The LocalStack virtualenv's python, installing it first if needed (scripts/build-localstack.sh). */
export function localStackPython(): string {
  const result = spawnSync("sh", [join(REPO, "scripts/build-localstack.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const python = result.stdout.trim().split("\n").pop() ?? "";
  if (result.status !== 0 || !existsSync(python)) {
    throw new Error(`LocalStack is not installed and could not be (scripts/build-localstack.sh): ${result.stderr.trim()}`);
  }
  return python;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const python = localStackPython();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(python, await reservePort(), options);
    } catch (error) {
      lastError = error;
      if (!/address already in use|Errno 98/i.test(String(error))) break;
    }
  }
  throw lastError;
}

async function startOnce(python: string, port: number, options: LocalStackOptions): Promise<LocalStack> {
  const dir = mkdtempSync(join(tmpdir(), "ecr-rotator-localstack-"));
  const record = join(dir, "invocations.jsonl");
  const child: ChildProcess = spawn(python, ["-m", "localstack.runtime.main"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      // hypercorn binds the host given; the default server binds 0.0.0.0 whatever the host.
      GATEWAY_SERVER: "hypercorn",
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      LOCALSTACK_HOST: `127.0.0.1:${port}`,
      DNS_ADDRESS: "0",
      PERSISTENCE: "0",
      LOCALSTACK_VOLUME_DIR: join(dir, "volume"),
      SKIP_SSL_CERT_DOWNLOAD: "1",
      DISABLE_EVENTS: "1",
      LAMBDA_RUNTIME_EXECUTOR: "node",
      LOCALSTACK_NODE_EXECUTOR_NODE: process.execPath,
      LOCALSTACK_NODE_EXECUTOR_RECORD: record,
      LOCALSTACK_NODE_EXECUTOR_ENV: JSON.stringify(options.functionEnv ?? {}),
    },
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "LocalStack",
      async () => {
        if (exited) throw new Error(`LocalStack exited: ${output}`);
        const res = await fetch(`${url}/_localstack/health`);
        return res.ok;
      },
      90_000,
      200,
    );
  } catch (error) {
    await stop();
    throw new Error(`LocalStack did not start on 127.0.0.1:${port}: ${String(error)}`, { cause: error });
  }
  return {
    url,
    port,
    invocations: () =>
      existsSync(record)
        ? readFileSync(record, "utf8")
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => JSON.parse(l) as InvocationRecord)
        : [],
    env: (region = "us-east-1") => ({
      PATH: process.env.PATH ?? "",
      HOME: dir,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_CONFIG_FILE: join(dir, "no-aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_PAGER: "",
    }),
    stop,
  };
}
