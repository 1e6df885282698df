/**
 * Both adapters (src/kube/http-client.ts, src/kube/client.ts) against a local HTTPS stub on
 * 127.0.0.1 (self-signed cert made with openssl): request shapes, error conversion without
 * response bodies, Retry-After, dropped connections, one shared keep-alive pool; LIST items
 * reduced on arrival through forEachListed (node:https streams them).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createKubeApi } from "../../src/kube/client";
import { createHttpKubeApi } from "../../src/kube/http-client";
import { forEachListed } from "../../src/kube/paging";
import { DEFAULT_RETRY_POLICY } from "../../src/kube/retry";
import type { KubeApi, KubeSecret } from "../../src/kube/types";
import { classify } from "../../src/kube/retry";
import { KubeApiError } from "../../src/kube/types";
import { selfSignedCert } from "../support/tls";

interface Seen {
  method: string;
  url: string;
  contentType?: string;
  authorization?: string;
  accept?: string;
  body: string;
}

let server: Server;
let dir: string;
let caData: string;
let url: string;
const seen: Seen[] = [];
let connections = 0;
let handler: (req: IncomingMessage, body: string, res: ServerResponse) => void = () => undefined;
const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
};
const TOKEN = "k8s-aws-v1.test-token-value-0123456789";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kube-client-"));
  const { key, cert } = selfSignedCert(dir, "rsa");
  caData = cert.toString("base64");
  server = createServer({ key, cert }, (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({
        method: req.method!,
        url: req.url!,
        contentType: req.headers["content-type"],
        authorization: req.headers.authorization,
        accept: req.headers.accept,
        body,
      });
      handler(req, body, res);
    });
  });
  server.on("secureConnection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  url = `https://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
  connections = 0;
});

type Factory = (c: { server: string; caData: string; token: string }) => Promise<KubeApi>;
const adapters: Array<[string, Factory]> = [
  ["node:https adapter (default)", async (c) => createHttpKubeApi(c)],
  ["client-node adapter", (c) => createKubeApi(c)],
];
let make: Factory = adapters[0]![1];

const withApi = async <T>(fn: (api: KubeApi) => Promise<T>): Promise<T> => {
  const api = await make({ server: url, caData, token: TOKEN });
  try {
    return await fn(api);
  } finally {
    await api.close?.();
  }
};

describe.each(adapters)("%s", (adapterName, factory) => {
  beforeEach(() => {
    make = factory;
  });

  it("lists with limit/continue/fieldSelector, sends the bearer token, returns the continue token", async () => {
    handler = (req, _b, res) =>
      json(res, 200, {
        kind: "SecretList",
        apiVersion: "v1",
        metadata: { resourceVersion: "10", continue: req.url!.includes("continue=") ? undefined : "next-page" },
        items: [
          {
            metadata: { name: "ecr-pull-secret", namespace: "a", resourceVersion: "5", labels: { x: "y" } },
            type: "kubernetes.io/dockerconfigjson",
            data: { ".dockerconfigjson": "e30=" },
          },
        ],
      });
    const pages = await withApi(async (api) => [
      await api.listSecrets({ fieldSelector: "metadata.name=ecr-pull-secret", limit: 500 }),
      await api.listSecrets({ fieldSelector: "metadata.name=ecr-pull-secret", limit: 500, continue: "next-page" }),
    ]);
    expect(pages[0]!.continue).toBe("next-page");
    expect(pages[1]!.continue).toBeUndefined();
    expect(pages[0]!.items[0]).toMatchObject({
      metadata: { name: "ecr-pull-secret", namespace: "a", resourceVersion: "5" },
      type: "kubernetes.io/dockerconfigjson",
    });
    const first = new URL(seen[0]!.url, url);
    expect(first.pathname).toBe("/api/v1/secrets");
    expect(first.searchParams.get("fieldSelector")).toBe("metadata.name=ecr-pull-secret");
    expect(first.searchParams.get("limit")).toBe("500");
    expect(new URL(seen[1]!.url, url).searchParams.get("continue")).toBe("next-page");
    expect(seen[0]!.authorization).toBe(`Bearer ${TOKEN}`);
    expect(connections).toBeLessThanOrEqual(2);
  });

  it("forEachListed reduces each item (streamed or not) and follows the continue token", async () => {
    const secret = (ns: string) => ({ metadata: { name: "ecr-pull-secret", namespace: ns, managedFields: [{ manager: "x" }] }, data: { k: "x".repeat(5000) } });
    handler = (req, _b, res) =>
      req.url!.includes("continue=")
        ? json(res, 200, { kind: "SecretList", metadata: {}, items: [secret("c")] })
        : json(res, 200, { kind: "SecretList", metadata: { continue: "p2" }, items: [secret("a"), secret("b")] });
    const seenNamespaces: string[] = [];
    await withApi((api) =>
      forEachListed<KubeSecret, string>(
        (o, onItem) => api.listSecrets(o, onItem),
        { fieldSelector: "metadata.name=ecr-pull-secret" },
        (ns) => void seenNamespaces.push(ns),
        { limit: 2, policy: DEFAULT_RETRY_POLICY },
        (s) => s.metadata.namespace,
      ),
    );
    expect(seenNamespaces).toEqual(["a", "b", "c"]);
    expect(seen).toHaveLength(2);
  });

  it("sequential requests share a keep-alive pool (client-node alone opens a TLS connection per request)", async () => {
    handler = (_req, _b, res) => json(res, 200, { kind: "NamespaceList", metadata: {}, items: [] });
    await withApi(async (api) => {
      for (let i = 0; i < 8; i++) await api.listNamespaces({ limit: 1 });
    });
    expect(seen).toHaveLength(8);
    expect(connections).toBeLessThanOrEqual(2);
  });

  it("patches with application/merge-patch+json; creates with POST; ExternalSecrets and ClusterExternalSecrets under external-secrets.io/v1", async () => {
    handler = (req, body, res) => json(res, req.method === "POST" ? 201 : 200, { metadata: { name: "n", namespace: "ns" }, ...JSON.parse(body || "{}") });
    await withApi(async (api) => {
      await api.patchSecret("ns", "ecr-pull-secret", { metadata: { resourceVersion: "5" }, data: { k: "dg==" } });
      await api.createSecret("ns", { metadata: { name: "ecr-pull-secret", namespace: "ns" }, type: "kubernetes.io/dockerconfigjson", data: { k: "dg==" } });
      await api.patchServiceAccount("ns", "default", { imagePullSecrets: [{ name: "x" }] });
      await api.patchExternalSecret("ns", "es", { metadata: { annotations: { "force-sync": "1" } } });
      await api.patchClusterExternalSecret("ces", { spec: { externalSecretMetadata: { annotations: { "force-sync": "1" } } } });
    });
    expect(seen.map((s) => [s.method, new URL(s.url, url).pathname, s.contentType?.split(";")[0]])).toEqual([
      ["PATCH", "/api/v1/namespaces/ns/secrets/ecr-pull-secret", "application/merge-patch+json"],
      ["POST", "/api/v1/namespaces/ns/secrets", "application/json"],
      ["PATCH", "/api/v1/namespaces/ns/serviceaccounts/default", "application/merge-patch+json"],
      ["PATCH", "/apis/external-secrets.io/v1/namespaces/ns/externalsecrets/es", "application/merge-patch+json"],
      ["PATCH", "/apis/external-secrets.io/v1/clusterexternalsecrets/ces", "application/merge-patch+json"],
    ]);
    expect(JSON.parse(seen[4]!.body)).toEqual({ spec: { externalSecretMetadata: { annotations: { "force-sync": "1" } } } });
    expect(JSON.parse(seen[0]!.body)).toEqual({ metadata: { resourceVersion: "5" }, data: { k: "dg==" } });
    if (adapterName.startsWith("node:https")) {
      // writes ask for a metadata-only answer (no docker config echoed back)
      expect(seen.map((x) => x.accept)).toEqual(Array(5).fill("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"));
    }
    expect(JSON.parse(seen[1]!.body)).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/dockerconfigjson" });
  });

  it("errors: Status message (scrubbed), reason and Retry-After; never the raw body; 404 on read → undefined", async () => {
    const echoed = Buffer.from("AWS:" + "p".repeat(40)).toString("base64");
    handler = (req, _b, res) => {
      if (req.method === "GET") return json(res, 404, { kind: "Status", reason: "NotFound", message: 'secrets "x" not found', code: 404 });
      if (req.url!.includes("/secrets/a"))
        return json(res, 429, { kind: "Status", reason: "TooManyRequests", message: "too many requests", code: 429 }, { "retry-after": "2" });
      return json(res, 422, {
        kind: "Status",
        reason: "Invalid",
        message: `Secret "b" is invalid: data: Invalid value: "${echoed}"`,
        details: { causes: [{ message: echoed }] },
        code: 422,
      });
    };
    await withApi(async (api) => {
      expect(await api.readSecret("ns", "x")).toBeUndefined();
      const throttled = await api.patchSecret("ns", "a", {}).catch((e: unknown) => e);
      expect(throttled).toBeInstanceOf(KubeApiError);
      expect(throttled).toMatchObject({
        status: 429,
        message: "too many requests",
        details: { reason: "TooManyRequests", retryAfterSeconds: 2, verb: "patch", resource: "secrets", namespace: "ns" },
      });
      const invalid = (await api.patchSecret("ns", "b", {}).catch((e: unknown) => e)) as KubeApiError;
      expect(invalid.status).toBe(422);
      expect(invalid.message).toMatch(/is invalid/);
      expect(JSON.stringify({ ...invalid, message: invalid.message, stack: invalid.stack })).not.toContain(echoed);
    });
  });

  it("a dropped connection becomes a retryable network error (a network Problem, no HTTP status)", async () => {
    handler = (req) => req.socket.destroy();
    const error = await withApi((api) => api.listNamespaces({ limit: 10 }).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).status).toBeUndefined();
    expect((error as KubeApiError).problem).toMatchObject({ kind: "network", code: "ECONNRESET" });
    expect(classify(error).retryable).toBe(true);
  });

  it("an untrusted server certificate is a non-retryable error", async () => {
    handler = (_req, _b, res) => json(res, 200, { items: [], metadata: {} });
    // a CA that is not the server's: generate a second self-signed cert
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k2.pem"), "-out", join(dir, "c2.pem"), "-days", "1", "-subj", "/CN=other"],
      { stdio: "ignore" },
    );
    const api = await make({ server: url, caData: readFileSync(join(dir, "c2.pem")).toString("base64"), token: TOKEN });
    const error = (await api.listNamespaces({ limit: 1 }).catch((e: unknown) => e)) as KubeApiError;
    await api.close?.();
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error.problem).toMatchObject({ kind: "network", code: "TLS" });
    expect(classify(error).retryable).toBe(false);
    expect(error.message).not.toContain(TOKEN);
  });
});

describe("node:https adapter: LIST items handed on as they arrive", () => {
  const item = (n: number) => JSON.stringify({ metadata: { name: `s${n}`, namespace: `ns${n}` }, data: { k: "y".repeat(4000) } });

  it("the first item reaches onItem before the rest of the page was sent", async () => {
    let firstSeen: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (firstSeen = resolve));
    const events: string[] = [];
    handler = (_req, _b, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"kind":"SecretList","metadata":{"resourceVersion":"1"},"items":[${item(1)},`);
      // The rest only once the first item was handed on (or after 2 s, for an adapter that waits for the whole page).
      void Promise.race([first, new Promise((r) => setTimeout(r, 2_000))]).then(() => {
        events.push("rest sent");
        res.end(`${item(2)}],"extra":{"continue":"not-this"}}`);
      });
    };
    const api = createHttpKubeApi({ server: url, caData, token: TOKEN });
    try {
      const page = await api.listSecrets({ limit: 2 }, (s) => {
        events.push(s.metadata.name);
        firstSeen();
      });
      events.push("page");
      expect(page).toEqual({ items: [] });
    } finally {
      await api.close?.();
    }
    // An adapter that waits for the whole page would read ["rest sent", "s1", …].
    expect(events).toEqual(["s1", "rest sent", "s2", "page"]);
  });

  it("a page dropped half-way is fetched again: every item is counted once", async () => {
    let attempts = 0;
    handler = (req, _b, res) => {
      attempts++;
      res.writeHead(200, { "content-type": "application/json" });
      if (attempts === 1) {
        // Two items arrive, then the connection drops.
        res.write(`{"kind":"SecretList","metadata":{},"items":[${item(1)},${item(2)},`);
        setTimeout(() => req.socket.destroy(), 50);
        return;
      }
      res.end(`{"kind":"SecretList","metadata":{},"items":[${item(1)},${item(2)},${item(3)}]}`);
    };
    const api = createHttpKubeApi({ server: url, caData, token: TOKEN });
    const counted: string[] = [];
    let reduced = 0;
    try {
      await forEachListed<KubeSecret, string>(
        (o, onItem) => api.listSecrets(o, onItem),
        {},
        (name) => void counted.push(name),
        { limit: 10, policy: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1 } },
        (s) => (reduced++, s.metadata.name),
      );
    } finally {
      await api.close?.();
    }
    expect(attempts).toBe(2);
    expect(reduced).toBe(5);
    expect(counted).toEqual(["s1", "s2", "s3"]);
  });

  it("a 2xx answer that is not a LIST is an error when streamed too, never an empty list", async () => {
    const secret = "streamed-secret-value-0123456789";
    for (const body of ["{}", '{"items":null}', '{"items":[1]}', '{"items":[{"a":1}', "<html>", `{"items":[{"data":{"k":"${secret}"}},{"x":${secret}}]}`]) {
      handler = (_req, _b, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(body);
      };
      const api = createHttpKubeApi({ server: url, caData, token: TOKEN });
      const error = (await api.listNamespaces({ limit: 1 }, () => undefined).catch((e: unknown) => e)) as KubeApiError;
      await api.close?.();
      expect(error, body).toBeInstanceOf(KubeApiError);
      expect(error.message).toMatch(/not a list/);
      // JSON.parse's message quotes the text it choked on: never passed on.
      expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(secret);
    }
  });
});
