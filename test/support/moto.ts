import { spawn, type ChildProcess } from "node:child_process";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { PortClashError, saysAddressInUse, startOnFreePorts, waitFor } from "./ports";

export interface MotoServer {
  /** e.g. http://127.0.0.1:PORT — use as AWS_ENDPOINT_URL. */
  url: string;
  port: number;
  /** Clears every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Environment that points the AWS SDK at a moto server with dummy credentials. */
export function motoEnv(url: string, region = "us-east-1"): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: url,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_SESSION_TOKEN: "testing",
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
  };
}

/** Starts `python3 -m moto.server` on a free port of 127.0.0.1 and waits until it answers. */
export function startMoto(): Promise<MotoServer> {
  return startOnFreePorts(1, ([port]) => startMotoOn(port!));
}

async function startMotoOn(port: number): Promise<MotoServer> {
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  try {
    await waitFor(
      "moto server",
      async () => {
        if (exited) throw saysAddressInUse(stderr) ? new PortClashError("moto", [port], stderr) : new Error(`moto exited: ${stderr}`);
        const res = await fetch(`${url}/moto-api/`);
        // Another process that took the port may answer too: only ours, alive, counts.
        return res.ok && !exited;
      },
      30_000,
    );
  } catch (error) {
    child.kill("SIGKILL");
    if (error instanceof PortClashError) throw error;
    throw new Error(`moto server did not start (is 'moto[server]' installed? run scripts/ensure-test-deps.sh): ${String(error)}`, { cause: error });
  }
  return {
    url,
    port,
    async reset() {
      const res = await fetch(`${url}/moto-api/reset`, { method: "POST" });
      if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      });
    },
  };
}

/** What {@link useMotoForRotation} sets up (filled in by its beforeAll). */
export interface MotoRotation {
  moto: MotoServer;
  /** A Secrets Manager client on moto, for the tests' own checks. */
  sm: SecretsManagerClient;
  /** The password part of moto's ECR token (moto hands out the same token every time). */
  motoPassword: string;
  /**
   * The token clock: one minute after moto's token was issued. moto's token expires on a fixed
   * date, so the product's token checks run against this clock and stay strict.
   */
  tokenNow: () => Date;
}

/**
 * The set-up of a test file that rotates against moto: one server for the file, reset before
 * each test; the AWS SDK pointed at it through the environment (restored afterwards); moto's ECR
 * token read once for its password and the token clock. The fields are set in beforeAll.
 */
export function useMotoForRotation(): MotoRotation {
  const bed = {} as MotoRotation;
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    bed.moto = await startMoto();
    Object.assign(process.env, motoEnv(bed.moto.url));
    bed.sm = new SecretsManagerClient({ region: "us-east-1" });
    const data = (await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    bed.motoPassword = Buffer.from(data.authorizationToken!, "base64").toString().split(":").slice(1).join(":");
    const issued = new Date(data.expiresAt!.getTime() - 12 * 3600_000 + 60_000);
    bed.tokenNow = () => issued;
  });
  afterAll(async () => {
    await bed.moto?.stop();
    process.env = savedEnv;
  });
  beforeEach(async () => {
    await bed.moto.reset();
  });
  return bed;
}
