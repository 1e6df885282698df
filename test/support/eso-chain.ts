// Helpers for the tests (and the bench) that run the product against the real External Secrets
// Operator in the test bed: the product through its CLI (bin/ecr-token-rotator.mjs → dist/, a
// stable entry point), ECR tokens that change (moto issues one fixed token per account), a
// watch on the API server that timestamps what ESO writes, and the pull Secret's state.
import { execFile } from "node:child_process";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import https from "node:https";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { FaultProxy, ROOT, startBed, type Bed, type BedOptions } from "../bed/index";
import { productManifestsFor } from "../bed/product-manifests";
import { productEnvForBed, BED_ECR_HOST } from "./bed-env";
import { startMoto, type MotoServer } from "./moto";
import { distEnv } from "./dist";
import type { LooseJson } from "./loose-json";

export { BED_ECR_HOST };
/** moto's ECR tokens expire 2015-01-01T00:00:00Z; judge them as of this instant (CLI --now). */
export const TOKEN_CLOCK = "2014-12-31T12:30:00Z";
const MOTO_TOKEN_EXPIRY_S = Date.UTC(2015, 0, 1) / 1000;

// ------------------------------------------------------------------------------------------
// ECR tokens

/** The password part of moto's ECR token for the bed's account. */
export const MOTO_ECR_TOKEN = "123456789012-auth-token";

/**
 * ECR as the product sees it: moto behind a proxy (AWS_ENDPOINT_URL_ECR), so a test can make
 * ECR issue a new token — what the real ECR does on every call and moto cannot (it derives the
 * token from the account id). Without `issue()` every call reaches moto.
 */
export interface EcrTokens {
  /** Environment for the product: ECR through the proxy (the other services: moto directly). */
  env: Record<string, string>;
  /** From now on GetAuthorizationToken answers with this password (user AWS), moto's expiry. */
  issue(password: string): void;
  /** Back to moto's own token. */
  reset(): void;
  stop(): Promise<void>;
}

export async function startEcrTokens(moto: MotoServer): Promise<EcrTokens> {
  const proxy = await FaultProxy.start({ target: moto.url });
  return {
    env: { AWS_ENDPOINT_URL_ECR: proxy.url },
    issue(password) {
      proxy.reset();
      const body = JSON.stringify({
        authorizationData: [
          {
            authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"),
            expiresAt: MOTO_TOKEN_EXPIRY_S,
            proxyEndpoint: `https://${BED_ECR_HOST}`,
          },
        ],
      });
      proxy.addFault({ fault: { kind: "status", status: 200, body, contentType: "application/x-amz-json-1.1" }, match: { method: "POST" } });
    },
    reset() {
      proxy.reset();
    },
    stop: () => proxy.stop(),
  };
}

// ------------------------------------------------------------------------------------------
// the product's CLI

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ecr-token-rotator ARGS` (the built CLI bundle) with exactly this environment (+ PATH). */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin", "ecr-token-rotator.mjs"), ...args],
      { env: { PATH: process.env.PATH ?? "", ...distEnv(), ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The product's environment for the bed + moto, ECR through `ecr` (see productEnvForBed). */
export function productEnv(bed: Bed, moto: MotoServer, ecr: EcrTokens, extra: Record<string, string> = {}): Record<string, string> {
  return productEnvForBed(bed, moto, { ...ecr.env, ...extra });
}

// ------------------------------------------------------------------------------------------
// watching the API server

export interface WatchEvent {
  type: string;
  object: LooseJson;
  /** performance.now() when the event arrived. */
  at: number;
}

export interface Watch {
  events: WatchEvent[];
  /** Resolves with the first event (already received or arriving) that satisfies `pred`. */
  until(pred: (e: WatchEvent) => boolean, timeoutMs: number, what: string): Promise<WatchEvent>;
  close(): void;
}

/**
 * A watch (as admin, straight to the API server) on objects of one collection, e.g.
 * `/api/v1/namespaces/ns/secrets` with `fieldSelector=metadata.name=x`. Every event is kept with
 * its arrival time, so a test can time "A was written → B was written" from one observer.
 */
export async function watch(bed: Bed, collectionPath: string, fieldSelector?: string): Promise<Watch> {
  const events: WatchEvent[] = [];
  const waiters = new Set<() => void>();
  // resourceVersion=0: start from the API server's watch cache (its current objects arrive as
  // ADDED first). Without it the server waits for the cache to reach etcd's newest revision,
  // which on the bed's etcd 3.4 (no progress notifications) can end the watch with
  // "Too large resource version".
  const q = new URLSearchParams({ watch: "1", resourceVersion: "0" });
  if (fieldSelector) q.set("fieldSelector", fieldSelector);
  const url = new URL(`${bed.apiServerUrl}${collectionPath}?${q.toString()}`);
  let closed = false;
  let failure: Error | undefined;
  const req = https.request(url, { method: "GET", ca: bed.caPem, headers: { authorization: `Bearer ${bed.adminToken}` } });
  await new Promise<void>((resolve, reject) => {
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`watch ${collectionPath}: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      resolve();
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as { type: string; object: LooseJson };
          if (ev.type === "ERROR") failure = new Error(`watch ${collectionPath}: ${ev.object?.message ?? JSON.stringify(ev.object)}`);
          else events.push({ type: ev.type, object: ev.object, at: performance.now() });
        }
        for (const w of waiters) w();
      });
      res.on("end", () => {
        if (!closed) failure = new Error(`watch ${collectionPath} ended`);
        for (const w of waiters) w();
      });
    });
    req.on("error", (e) => {
      if (!closed) failure = e;
      reject(e);
      for (const w of waiters) w();
    });
    req.end();
  });
  return {
    events,
    until(pred, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          } else if (failure) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(failure);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (watch of ${collectionPath} saw ${events.length} event(s))`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      closed = true;
      req.destroy();
    },
  };
}

// ------------------------------------------------------------------------------------------
// Secrets and ExternalSecrets

export interface SecretState {
  uid: string;
  resourceVersion: string;
  type: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerKinds: string[];
  /** Decoded data. */
  data: Record<string, string>;
}

export function secretState(obj: LooseJson): SecretState {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, string>)) data[k] = Buffer.from(v, "base64").toString("utf8");
  return {
    uid: obj.metadata.uid,
    resourceVersion: obj.metadata.resourceVersion,
    type: obj.type,
    labels: obj.metadata.labels ?? {},
    annotations: obj.metadata.annotations ?? {},
    ownerKinds: (obj.metadata.ownerReferences ?? []).map((o: { kind: string }) => o.kind),
    data,
  };
}

export async function getJson(bed: Bed, args: string[]): Promise<LooseJson> {
  const res = await bed.kubectl([...args, "-o", "json"]);
  if (res.code !== 0) {
    if (/NotFound|not found/.test(res.stderr)) return undefined;
    throw new Error(`kubectl ${args.join(" ")}: ${res.stderr}`);
  }
  return JSON.parse(res.stdout);
}

export async function getSecret(bed: Bed, namespace: string, name: string): Promise<SecretState | undefined> {
  const obj = await getJson(bed, ["-n", namespace, "get", "secret", name]);
  return obj ? secretState(obj) : undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `probe` returns a value (not undefined); fails with what it was waiting for. */
export async function pollFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ""}`);
    await sleep(everyMs);
  }
}

/** The password of the entry for `host` in a dockerconfigjson (undefined if absent). */
export function passwordFor(dockerconfigjson: string | undefined, host = BED_ECR_HOST): string | undefined {
  if (dockerconfigjson === undefined) return undefined;
  const entry = (JSON.parse(dockerconfigjson) as { auths?: Record<string, { password?: string; auth?: string }> }).auths?.[host];
  return entry?.password;
}

/**
 * The entry for the ECR host moved under the local registry's key, content unchanged (the
 * registry runs on 127.0.0.1:PORT, not on the ECR host).
 */
export function forLocalRegistry(dockerconfigjson: string, registryHost: string): string {
  const config = JSON.parse(dockerconfigjson) as { auths: Record<string, unknown> };
  const keys = Object.keys(config.auths);
  if (keys.length !== 1 || keys[0] !== BED_ECR_HOST) throw new Error(`expected exactly the entry ${BED_ECR_HOST}, got ${keys.join(", ")}`);
  return JSON.stringify({ auths: { [registryHost]: config.auths[BED_ECR_HOST] } });
}

/** ESO's last log lines (for failure messages; ESO logs no secret values at info level). */
export function esoLogTail(bed: Bed, lines = 30): string {
  return `--- ESO log (${bed.eso?.logFile}) ---\n${(bed.eso?.log() ?? "").split("\n").slice(-lines).join("\n")}`;
}

/** Condition Ready of an ExternalSecret-like object: "True"/"False"/undefined, with its message. */
export function readyCondition(obj: LooseJson): { status?: string; reason?: string; message?: string } {
  const c = (obj?.status?.conditions ?? []).find((x: { type: string }) => x.type === "Ready");
  return c ? { status: c.status, reason: c.reason, message: c.message } : {};
}

// ------------------------------------------------------------------------------------------
// one world per test file: moto, the bed with ESO, ECR through the token proxy, the product's
// first rotation, and the seed's ClusterSecretStore (unchanged) Ready

export const SM_SECRET = "production/ecr/credentials";

export interface EsoWorld {
  moto: MotoServer;
  bed: Bed;
  ecr: EcrTokens;
  /** Everything the product printed (stdout and stderr of every CLI run). */
  outputs: string[];
  /** Runs the CLI with `--json --now TOKEN_CLOCK`; throws unless it exits 0; returns the Report. */
  cli(args: string[], extra?: Record<string, string>): Promise<LooseJson>;
  /** The token Secrets Manager holds now (read with the SDK, not through the product). */
  storedToken(): Promise<string>;
  /** Waits until ESO has written `ns/name` satisfying `pred`. */
  esoSecret(ns: string, name: string, pred?: (s: SecretState) => boolean, timeoutMs?: number): Promise<SecretState>;
  /** kubectl apply -f <repo file> [-n ns]. */
  applyFile(file: string, namespace?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * startMoto, again on another free port when the one it picked was taken meanwhile (many test
 * processes pick free ports at once; moto then exits with "Address already in use").
 */
async function startMotoRetrying(attempts = 3): Promise<MotoServer> {
  for (let i = 1; ; i++) {
    try {
      return await startMoto();
    } catch (error) {
      if (i >= attempts || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

export async function startEsoWorld(options: { productEnv?: Record<string, string>; bed?: Omit<BedOptions, "eso"> } = {}): Promise<EsoWorld> {
  const moto = await startMotoRetrying();
  let bed: Bed | undefined;
  let ecr: EcrTokens | undefined;
  // The tests' heals write the default name and, where ESO owns that one, ecr-fallback-pull-secret.
  const manifests = productManifestsFor(["ecr-pull-secret", "ecr-fallback-pull-secret"]);
  try {
    [bed, ecr] = await Promise.all([startBed({ rbacManifests: manifests, ...options.bed, eso: { awsEndpoint: moto.url } }), startEcrTokens(moto)]);
  } catch (error) {
    await Promise.allSettled([bed?.stop(), ecr?.stop(), moto.stop()]);
    throw error;
  } finally {
    rmSync(dirname(manifests[0]!), { recursive: true, force: true });
  }
  const b = bed;
  const e = ecr;
  const outputs: string[] = [];
  const world: EsoWorld = {
    moto,
    bed: b,
    ecr: e,
    outputs,
    async cli(args, extra = {}) {
      const res = await runCli(
        [...args, "--json", "--now", TOKEN_CLOCK],
        productEnv(b, moto, e, { PATCH_SERVICE_ACCOUNTS: "", ...options.productEnv, ...extra }),
      );
      outputs.push(res.stdout, res.stderr);
      if (res.code !== 0) throw new Error(`ecr-token-rotator ${args.join(" ")} exited ${res.code}:\n${res.stdout}\n${res.stderr}`);
      return JSON.parse(res.stdout);
    },
    async storedToken() {
      const sm = new SecretsManagerClient({ region: "us-east-1", endpoint: moto.url, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
      const out = await sm.send(new GetSecretValueCommand({ SecretId: SM_SECRET }));
      return (JSON.parse(out.SecretString!) as { auth_token: string }).auth_token;
    },
    esoSecret(ns, name, pred = () => true, timeoutMs = 30_000) {
      return pollFor(
        `ESO to write Secret ${ns}/${name}`,
        async () => {
          const s = await getSecret(b, ns, name);
          return s && pred(s) ? s : undefined;
        },
        timeoutMs,
        150,
        () => esoLogTail(b),
      );
    },
    async applyFile(file, namespace) {
      await b.kubectl([...(namespace ? ["-n", namespace] : []), "apply", "-f", join(ROOT, file)], { check: true });
    },
    async stop() {
      await Promise.allSettled([b.stop(), e.stop()]);
      await moto.stop();
    },
  };
  try {
    const report = await world.cli(["rotate"]);
    if (!report.ok || report.registries?.[0]?.outcome !== "created")
      throw new Error(`the first rotation did not create ${SM_SECRET}: ${JSON.stringify(report)}`);
    // The seed's ClusterSecretStore, unchanged: IRSA (auth.jwt.serviceAccountRef). ESO requests
    // a token for ServiceAccount external-secrets/external-secrets and exchanges it at STS (moto).
    await world.applyFile("infra/k8s/base/cluster-secret-store.yaml");
    await pollFor(
      "ClusterSecretStore aws-secrets-manager to be Ready",
      async () => (readyCondition(await getJson(b, ["get", "clustersecretstore", "aws-secrets-manager"])).status === "True" ? true : undefined),
      30_000,
      200,
      () => esoLogTail(b),
    );
  } catch (error) {
    await world.stop();
    throw error;
  }
  return world;
}
