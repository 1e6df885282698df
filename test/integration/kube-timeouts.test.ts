/**
 * Both Kubernetes adapters against a local HTTPS stub (test/support/tls.ts certificate) that
 * misbehaves: an answer that trickles in forever (a total timer must end it, an idle timer never
 * would), an answer that never comes (the invocation deadline ends it), and a 2xx body that is
 * not a list (an error, not "no namespaces").
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyToCluster } from "../../src/kube/apply";
import { createKubeApi } from "../../src/kube/client";
import { createHttpKubeApi } from "../../src/kube/http-client";
import { KubeApiError, type KubeApi } from "../../src/kube/types";
import { deadlineIn, DeadlineExceededError, type Deadline } from "../../src/shared/deadline";
import { selfSignedCert } from "../support/tls";

let server: Server;
let dir: string;
let caData: string;
let url: string;
let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
const timers = new Set<ReturnType<typeof setInterval>>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kube-timeouts-"));
  const { key, cert } = selfSignedCert(dir, "rsa");
  caData = cert.toString("base64");
  server = createServer({ key, cert }, (req, res) => {
    req.resume();
    req.on("end", () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  url = `https://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** Answers 200 and then one byte of a never-ending list every 50 ms. */
const trickle = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.write('{"kind":"NamespaceList","items":[');
  const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(" ")), 50);
  timers.add(t);
};
/** Accepts the request and never answers. */
const silent = () => undefined;

const connection = () => ({ server: url, caData, token: "k8s-aws-v1.timeouts-test-token" });
const adapters: Array<[string, (o: { timeoutMs?: number; deadline?: Deadline }) => Promise<KubeApi>]> = [
  ["node:https", async (o) => createHttpKubeApi(connection(), o)],
  ["client-node", (o) => createKubeApi(connection(), o)],
];

describe.each(adapters)("%s adapter", (_name, open) => {
  it("an answer that trickles in forever ends at the request's total timeout (a retryable network error)", async () => {
    handler = trickle;
    const api = await open({ timeoutMs: 600 });
    const error = await api.listNamespaces({ limit: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await api.close?.();
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).problem).toMatchObject({ kind: "network", code: "ETIMEDOUT" });
  }, 10_000);

  it("an answer that never comes ends at the invocation's deadline (not retried)", async () => {
    handler = silent;
    const api = await open({ deadline: deadlineIn(500) });
    const error = await api.readSecret("a", "ecr-pull-secret").then(
      () => undefined,
      (e: unknown) => e,
    );
    await api.close?.();
    expect(error).toBeInstanceOf(DeadlineExceededError);
    // After the deadline, nothing is sent at all.
    await expect((await open({ deadline: deadlineIn(0) })).listNamespaces({ limit: 1 })).rejects.toBeInstanceOf(DeadlineExceededError);
  }, 10_000);

  it("a 2xx answer that is not a list is an error, not an empty list", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    };
    const api = await open({});
    await expect(api.listNamespaces({ limit: 10 })).rejects.toThrow(/not a list/);
    await api.close?.();
  });
});

describe("apply engine against a cluster answering {} to the namespace LIST", () => {
  it("the run fails with a precise error instead of reporting ok with no namespaces", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    };
    const result = await applyToCluster(connection(), [{ host: "123456789012.dkr.ecr.us-east-1.amazonaws.com", username: "AWS", password: "p" }], {
      cluster: "c",
      namespaces: { mode: "all", exclude: [] },
      pullSecretName: "ecr-pull-secret",
      patchServiceAccounts: [],
      concurrency: 2,
      adoptUnmanaged: false,
      dryRun: false,
    });
    expect(result.ok).toBe(false);
    expect(result.errors.join()).toMatch(/listing namespaces failed: .*not a list/);
  });
});
