/**
 * Issue 19 §3: every attempt of an SDK call has a total time, the body included. A local server
 * (127.0.0.1, port 0) answers Secrets Manager and ECR with the headers of a 200 and then a body
 * that trickles a byte at a time, or never comes. NodeHttpHandler alone stops its request timer
 * at the headers, and its socket timeout is an idle timer a trickle never trips: the one attempt
 * ran to the invocation's deadline. With the product's handler each attempt ends at its bound,
 * the SDK retries (SDK_MAX_ATTEMPTS in all, counted by the server), and the call fails long
 * before the deadline with a transport failure the typed Problem classifies as ETIMEDOUT.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterEach, describe, expect, it } from "vitest";
import { sdkSecretsApi } from "../../src/rotation/secrets-manager";
import { deadlineIn } from "../../src/shared/deadline";
import { errorCode, networkCodeOf, transportProblem } from "../../src/shared/problem";
import { AttemptBoundHandler, SDK_CLIENT_OPTIONS, SDK_MAX_ATTEMPTS, SDK_REQUEST_TIMEOUT_MS, sdkSend } from "../../src/shared/sdk-call";

/** The per-attempt bound of these tests (the product's is SDK_REQUEST_TIMEOUT_MS, 10 s). */
const ATTEMPT_MS = 300;
/** The invocation's deadline: far beyond every attempt and retry wait together. */
const DEADLINE_MS = 20_000;

type Body = "trickle" | "hang";

interface SlowServer {
  url: string;
  requests: () => number;
  stop: () => Promise<void>;
}

let server: SlowServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** Headers of a JSON 200 answer, then the body as `body` says: never complete. */
async function slowServer(body: Body): Promise<SlowServer> {
  let requests = 0;
  const open = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const http: Server = createServer((req, res) => {
    requests++;
    req.resume();
    open.add(res);
    res.writeHead(200, { "content-type": "application/x-amz-json-1.1", "content-length": "4096" });
    res.flushHeaders();
    if (body === "trickle") {
      res.write("{");
      const timer = setInterval(() => res.write(" "), 20);
      timers.add(timer);
      res.on("close", () => clearInterval(timer));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const res of open) res.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

const clientOptions = (url: string) => ({
  region: "us-east-1",
  endpoint: url,
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-secret" },
  ...SDK_CLIENT_OPTIONS,
  requestHandler: new AttemptBoundHandler(ATTEMPT_MS),
});

async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error("the call succeeded");
}

describe("an SDK answer whose body hangs or trickles: each attempt ends at its bound, retried within the deadline", () => {
  it.each<Body>(["trickle", "hang"])("Secrets Manager GetSecretValue, body %s", async (body) => {
    server = await slowServer(body);
    const deadline = deadlineIn(DEADLINE_MS);
    const secrets = sdkSecretsApi(new SecretsManagerClient(clientOptions(server.url)), deadline);
    const error = await failure(secrets.getCurrent("ecr/creds"));
    expect(error).toMatchObject({ name: "TimeoutError", code: "ETIMEDOUT" });
    expect(networkCodeOf(errorCode(error))).toBe("ETIMEDOUT");
    expect(transportProblem(error, { service: "aws", url: server.url })).toMatchObject({ kind: "network", code: "ETIMEDOUT" });
    expect(server.requests()).toBe(SDK_MAX_ATTEMPTS);
    expect(deadline.expired()).toBe(false);
  });

  it("ECR GetAuthorizationToken, body trickling", async () => {
    server = await slowServer("trickle");
    const deadline = deadlineIn(DEADLINE_MS);
    const ecr = new ECRClient(clientOptions(server.url));
    const error = await failure(sdkSend(deadline, "ECR GetAuthorizationToken", (o) => ecr.send(new GetAuthorizationTokenCommand({}), o)));
    expect(networkCodeOf(errorCode(error))).toBe("ETIMEDOUT");
    expect(server.requests()).toBe(SDK_MAX_ATTEMPTS);
    expect(deadline.expired()).toBe(false);
  });

  it("every client gets a handler of its own, bounded at SDK_REQUEST_TIMEOUT_MS per attempt", () => {
    const a = SDK_CLIENT_OPTIONS.requestHandler;
    const b = SDK_CLIENT_OPTIONS.requestHandler;
    expect(a).toBeInstanceOf(AttemptBoundHandler);
    expect(a).not.toBe(b);
    expect({ ...SDK_CLIENT_OPTIONS }.requestHandler).toBeInstanceOf(AttemptBoundHandler);
    expect((a as unknown as { attemptTimeoutMs: number }).attemptTimeoutMs).toBe(SDK_REQUEST_TIMEOUT_MS);
  });
});
