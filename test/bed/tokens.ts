// Helpers for the bed's own tests: EKS tokens made by the AWS CLI (the reference) and hand-made
// ones (signed with @smithy/signature-v4, so a token with a bad property still carries a valid
// signature and the bed must refuse it for that property), and a SelfSubjectReview call.
import { spawn } from "node:child_process";
import https from "node:https";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Bed, BedIdentity } from "./index";

export function encodeToken(url: string): string {
  return `k8s-aws-v1.${Buffer.from(url).toString("base64url")}`;
}

export function decodeToken(token: string): string {
  return Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString("utf8");
}

function utc(d: Date): string {
  return d.toISOString().replace("T", " ").slice(0, 19);
}

/**
 * `aws eks get-token` (AWS CLI v1) as `identity`; `at` runs it under faketime at that instant.
 */
export async function cliToken(bed: Bed, identityName: string, opts: { cluster?: string; region?: string; at?: Date } = {}): Promise<string> {
  const args = [
    "-m",
    "awscli",
    "eks",
    "get-token",
    "--cluster-name",
    opts.cluster ?? bed.clusterName,
    "--region",
    opts.region ?? bed.region,
    "--output",
    "json",
  ];
  const cmd = opts.at ? "faketime" : "python3";
  const fullArgs = opts.at ? [utc(opts.at), "python3", ...args] : args;
  const env = { ...process.env, ...bed.awsEnv(identityName), TZ: "UTC" };
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, fullArgs, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (c) => resolve({ code: c ?? -1, stdout: out, stderr: err }));
  });
  if (code !== 0) throw new Error(`aws eks get-token failed (${code}): ${stderr}`);
  const token = (JSON.parse(stdout) as { status: { token: string } }).status.token;
  if (!token.startsWith("k8s-aws-v1.")) throw new Error("aws eks get-token returned no k8s-aws-v1. token");
  return token;
}

export interface HandTokenOptions {
  cluster?: string;
  region?: string;
  host?: string;
  expiresIn?: number;
  signingDate?: Date;
  /** Extra query parameters, signed like the rest. */
  query?: Record<string, string>;
  /** Sign the cluster header (default true). */
  signClusterHeader?: boolean;
  scheme?: string;
  path?: string;
  action?: string;
}

/** A presigned GetCallerIdentity URL signed with @smithy/signature-v4, with knobs. */
export async function handToken(bed: Bed, identity: BedIdentity, o: HandTokenOptions = {}): Promise<string> {
  const region = o.region ?? bed.region;
  const host = o.host ?? `sts.${region}.amazonaws.com`;
  const headers: Record<string, string> = { host };
  if (o.signClusterHeader !== false) headers["x-k8s-aws-id"] = o.cluster ?? bed.clusterName;
  const signer = new SignatureV4({
    credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey, sessionToken: identity.sessionToken },
    region,
    service: "sts",
    sha256: Sha256,
  });
  const req = new HttpRequest({
    method: "GET",
    protocol: "https:",
    hostname: host,
    path: o.path ?? "/",
    query: { Action: o.action ?? "GetCallerIdentity", Version: "2011-06-15", ...(o.query ?? {}) },
    headers,
  });
  const signed = await signer.presign(req, { expiresIn: o.expiresIn ?? 60, signingDate: o.signingDate ?? new Date() });
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return encodeToken(`${o.scheme ?? "https"}://${host}${signed.path}?${query}`);
}

export interface WhoAmI {
  status: number;
  username?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
  body: string;
}

/** POST a SelfSubjectReview (what `kubectl auth whoami` does) with a bearer token. */
export function whoami(bed: Bed, token: string, viaProxy = false): Promise<WhoAmI> {
  return whoamiAt(viaProxy ? bed.proxyUrl : bed.apiServerUrl, bed.caPem, token);
}

/** The same against any API server URL, trusting only `caPem`. */
export function whoamiAt(server: string, caPem: string, token: string): Promise<WhoAmI> {
  const base = new URL(server);
  const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: base.hostname,
        port: base.port,
        method: "POST",
        path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        ca: caPem,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const out: WhoAmI = { status: res.statusCode ?? 0, body: text };
          if (out.status === 201 || out.status === 200) {
            const info = (JSON.parse(text) as { status: { userInfo: { username: string; groups: string[]; extra?: Record<string, string[]> } } }).status
              .userInfo;
            out.username = info.username;
            out.groups = info.groups;
            out.extra = info.extra;
          }
          resolve(out);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
