// The fault-injecting proxy of the test bed: in front of kube-apiserver (TLS, same CA as the API
// server) and in front of moto (plain HTTP). Every switch is observable: latency, 429 +
// Retry-After, 5xx, dropped connections (before and after the upstream saw the request), slow
// responses, request counting by method and path, and control over HTTP.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startMoto, type MotoServer } from "../support/moto";
import { waitFor } from "../support/ports";
import { FaultProxy, FaultProxyClient, startBed, type Bed } from "./index";

let bed: Bed;

beforeAll(async () => {
  bed = await startBed();
});

afterAll(async () => {
  await bed?.stop();
});

beforeEach(() => {
  bed.proxy.reset();
});

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  chunks: number;
}

/** An admin request through the proxy (or straight to the API server). */
function call(method: string, path: string, opts: { body?: unknown; direct?: boolean } = {}): Promise<Res> {
  const base = new URL(opts.direct ? bed.apiServerUrl : bed.proxyUrl);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        ca: bed.caPem,
        agent: false,
        headers: { authorization: `Bearer ${bed.adminToken}`, "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), chunks: chunks.length }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

const configMap = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default" }, data: { k: "v" } });

describe("fault proxy in front of kube-apiserver", () => {
  it("forwards with the API server's CA and counts requests by method and path", async () => {
    const res = await call("GET", "/api/v1/namespaces");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).kind).toBe("NamespaceList");
    await call("GET", "/api/v1/namespaces/default");
    await call("GET", "/api/v1/namespaces/kube-system");
    expect(bed.proxy.count()).toBe(3);
    expect(bed.proxy.count({ method: "GET", path: "/api/v1/namespaces" })).toBe(1);
    expect(bed.proxy.count({ method: "GET", path: "/api/v1/namespaces/*" })).toBe(2);
    expect(bed.proxy.count({ method: "POST", path: "/api/v1/namespaces/*" })).toBe(0);
    expect(bed.proxy.countsByRoute()).toEqual({ "GET /api/v1/namespaces": 1, "GET /api/v1/namespaces/default": 1, "GET /api/v1/namespaces/kube-system": 1 });
    expect(bed.proxy.requests().map((r) => r.status)).toEqual([200, 200, 200]);
    bed.proxy.resetCounts();
    expect(bed.proxy.count()).toBe(0);
  });

  it("answers 429 with Retry-After for the next N matching requests, then forwards again", async () => {
    bed.proxy.throttle(2, 3, { match: { method: "GET", path: "/api/v1/namespaces" } });
    for (let i = 0; i < 2; i++) {
      const res = await call("GET", "/api/v1/namespaces");
      expect(res.status).toBe(429);
      expect(res.headers["retry-after"]).toBe("3");
      expect(JSON.parse(res.body)).toMatchObject({ kind: "Status", reason: "TooManyRequests", code: 429, details: { retryAfterSeconds: 3 } });
    }
    expect((await call("GET", "/api/v1/namespaces/default")).status).toBe(200); // other paths unaffected
    expect((await call("GET", "/api/v1/namespaces")).status).toBe(200);
    expect(bed.proxy.faults()).toEqual([]); // used up
  });

  it("lets a real client (kubectl/client-go) see the 429, honour Retry-After and retry", async () => {
    bed.proxy.throttle(1, 1, { match: { method: "GET", path: "/api/v1/namespaces/default" } });
    const res = await bed.kubectl(["get", "namespace", "default", "-o", "name"], { viaProxy: true });
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe("namespace/default");
    expect(bed.proxy.requests({ method: "GET", path: "/api/v1/namespaces/default" }).map((r) => r.status)).toEqual([429, 200]);
  });

  it("answers 5xx for the next N requests", async () => {
    bed.proxy.failNext(1, 503);
    bed.proxy.failNext(1, 500);
    const first = await call("GET", "/api/v1/namespaces");
    const second = await call("GET", "/api/v1/namespaces");
    const third = await call("GET", "/api/v1/namespaces");
    expect([first.status, second.status, third.status]).toEqual([503, 500, 200]);
    expect(JSON.parse(first.body).reason).toBe("ServiceUnavailable");
    expect(bed.proxy.requests().map((r) => r.faults)).toEqual([["status"], ["status"], []]);
  });

  it("can fail a write after the API server applied it (afterUpstream)", async () => {
    bed.proxy.failNext(1, 500, { match: { method: "POST" }, afterUpstream: true });
    const res = await call("POST", "/api/v1/namespaces/default/configmaps", { body: configMap("applied-then-500") });
    expect(res.status).toBe(500);
    expect((await call("GET", "/api/v1/namespaces/default/configmaps/applied-then-500", { direct: true })).status).toBe(200);
  });

  it("drops connections for the next N requests, before or after the upstream saw them", async () => {
    bed.proxy.dropNext(1);
    await expect(call("GET", "/api/v1/namespaces")).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await call("GET", "/api/v1/namespaces")).status).toBe(200);
    expect(bed.proxy.requests()[0]).toMatchObject({ outcome: "dropped", faults: ["drop"] });

    bed.proxy.dropNext(1, { match: { method: "POST" }, afterUpstream: true });
    await expect(call("POST", "/api/v1/namespaces/default/configmaps", { body: configMap("applied-then-dropped") })).rejects.toThrow(
      /socket hang up|ECONNRESET/,
    );
    expect((await call("GET", "/api/v1/namespaces/default/configmaps/applied-then-dropped", { direct: true })).status).toBe(200);
  });

  it("trickles slow responses out in small pieces, intact", async () => {
    const direct = await call("GET", "/api/v1", { direct: true });
    bed.proxy.slow(5, { chunkBytes: 256, times: 1 });
    const slow = await call("GET", "/api/v1");
    expect(slow.status).toBe(200);
    expect(slow.body).toBe(direct.body);
    expect(slow.chunks).toBeGreaterThanOrEqual(Math.floor(direct.body.length / 256));
    expect(bed.proxy.requests()[0]!.faults).toEqual(["slow"]);
  });

  it("applies a fault only to matching paths and only to the fraction asked for", async () => {
    bed.proxy.failNext(5, 503, { match: { path: "/api/v1/namespaces/*/secrets/*" } });
    expect((await call("GET", "/api/v1/namespaces/default/secrets")).status).toBe(200);
    expect((await call("GET", "/api/v1/namespaces/default/secrets/none")).status).toBe(503);
    expect(bed.proxy.faults()[0]).toMatchObject({ times: 5, applied: 1 });
    bed.proxy.clearFaults();
    bed.proxy.addFault({ fault: { kind: "status", status: 503 }, fraction: 0 });
    for (let i = 0; i < 5; i++) expect((await call("GET", "/api/v1/namespaces")).status).toBe(200);
  });

  it("is controlled over its HTTP control endpoint too (for child processes)", async () => {
    const client = new FaultProxyClient(bed.proxy.controlUrl);
    const id = await client.throttle(1, 7);
    expect((await client.faults()).map((f) => f.id)).toEqual([id]);
    const res = await call("GET", "/api/v1/namespaces");
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("7");
    await call("GET", "/api/v1/namespaces");
    expect(await client.count({ method: "GET", path: "/api/v1/namespaces" })).toBe(2);
    expect((await client.requests()).map((r) => r.status)).toEqual([429, 200]);
    await client.failNext(3, 502);
    await client.reset();
    expect(await client.count()).toBe(0);
    expect(await client.faults()).toEqual([]);
    await expect(client.addFault({ fault: { kind: "status", status: 9999 } })).rejects.toThrow(/400/);
  });
});

describe("fault proxy in front of a plain HTTP server", () => {
  let upstream: http.Server;
  let hits = 0;
  let proxy: FaultProxy;
  let moto: MotoServer | undefined;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      hits++;
      req.resume();
      res.end("hello");
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    proxy = await FaultProxy.start({ target: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
  });

  afterAll(async () => {
    await proxy?.stop();
    upstream?.close();
    await moto?.stop();
  });

  it("adds latency before the upstream sees the request", async () => {
    hits = 0;
    proxy.setLatency(1500);
    const pending = fetch(`${proxy.url}/x`).then((r) => r.text());
    await waitFor("the proxy to receive the request", async () => proxy.count() === 1, 5000, 10);
    expect(hits).toBe(0); // held at the proxy
    expect(await pending).toBe("hello");
    expect(hits).toBe(1);
    expect(proxy.requests()[0]!.faults).toEqual(["latency"]);
    proxy.setLatency(0);
    expect(proxy.faults()).toEqual([]);
  });

  it("throttles moto: the AWS SDK retries the 429 and succeeds", async () => {
    moto = await startMoto();
    const motoProxy = await FaultProxy.start({ target: moto.url });
    try {
      motoProxy.throttle(1, 0, { match: { method: "POST" } });
      const sm = new SecretsManagerClient({
        endpoint: motoProxy.url,
        region: "us-east-1",
        credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
        maxAttempts: 3,
      });
      const out = await sm.send(new CreateSecretCommand({ Name: "through-proxy", SecretString: "x" }));
      expect(out.Name).toBe("through-proxy");
      expect(motoProxy.requests({ method: "POST", path: "/" }).map((r) => r.status)).toEqual([429, 200]);
      sm.destroy();
    } finally {
      await motoProxy.stop();
    }
  });
});
