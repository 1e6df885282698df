/**
 * The doctor's requests outside the KubeApi port (src/kube/reviews.ts) against a local HTTPS stub
 * (test/support/tls.ts certificate) that trickles its answer: the deadline rejects the call and
 * ends the request too (a trickle keeps an idle timeout from ever firing).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { serverVersion } from "../../src/kube/reviews";
import { KubeApiError } from "../../src/kube/types";
import { deadlineIn, DeadlineExceededError } from "../../src/shared/deadline";
import { selfSignedCert } from "../support/tls";

let server: Server;
let dir: string;
let caData: string;
let url: string;
const timers = new Set<ReturnType<typeof setInterval>>();
/** Server-side answers still open. */
const open = new Set<object>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "doctor-reviews-"));
  const { key, cert } = selfSignedCert(dir, "rsa");
  caData = cert.toString("base64");
  server = createServer({ key, cert }, (req, res) => {
    req.resume();
    open.add(res);
    res.on("close", () => open.delete(res));
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"gitVersion":');
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(" ")), 50);
    timers.add(t);
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

it("a request the deadline cuts is rejected as such and ended, not left trickling", async () => {
  const connection = { server: url, caData, token: "k8s-aws-v1.reviews-test-token" };
  const call = serverVersion(connection, { timeoutMs: 30_000, deadline: deadlineIn(300) });
  await expect(call).rejects.toBeInstanceOf(DeadlineExceededError);
  await vi.waitFor(() => expect(open.size).toBe(0), { timeout: 3_000, interval: 50 });
});

it("without a deadline, a trickling answer ends at the request's total timeout (not an idle timer): a network ETIMEDOUT", async () => {
  const connection = { server: url, caData, token: "k8s-aws-v1.reviews-test-token" };
  const error = await serverVersion(connection, { timeoutMs: 300 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KubeApiError);
  expect((error as KubeApiError).problem).toMatchObject({ kind: "network", code: "ETIMEDOUT", target: { url } });
  await vi.waitFor(() => expect(open.size).toBe(0), { timeout: 3_000, interval: 50 });
});
