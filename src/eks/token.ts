/**
 * EKS bearer tokens, exactly as `aws eks get-token` (AWS CLI) and aws-iam-authenticator build
 * them: `k8s-aws-v1.` + base64url (no padding) of a SigV4-presigned STS `GetCallerIdentity` URL,
 * GET `/` on the regional STS host, with the signed header `x-k8s-aws-id: <cluster>` and
 * `X-Amz-Expires=60` (STS ignores it; the URL is accepted for 15 min after `X-Amz-Date`).
 *
 * For the same credentials, region, cluster and timestamp the token is byte-identical to the
 * CLI's: the signature comes from `@smithy/signature-v4`, and the URL is assembled here in the
 * CLI's (botocore's) parameter order, which is not sorted: the operation parameters
 * (`Action`, `Version`), then `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`,
 * `-SignedHeaders`, `-Security-Token` (only with a session token) and `X-Amz-Signature` last.
 *
 * No network call is made; signing needs nothing but credentials.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { EKS_TOKEN_LIFETIME_MS, isAwsRegion } from "../shared/names";
import { rememberSecret } from "../shared/redact";

export interface EksCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface EksTokenParams {
  clusterName: string;
  region: string;
  credentials: EksCredentials;
  /** Signing time (default: the system clock). Truncated to whole seconds, as SigV4 does. */
  now?: Date;
}

export interface EksToken {
  /** `k8s-aws-v1.…` — secret material: never log it. */
  token: string;
  /** `X-Amz-Date` + 14 min, as `aws eks get-token` reports (the URL itself is valid 15 min). */
  expiresAt: Date;
}

export const EKS_TOKEN_PREFIX = "k8s-aws-v1.";
export const CLUSTER_ID_HEADER = "x-k8s-aws-id";
/** What both the CLI and aws-iam-authenticator send; the verifier rejects anything above 900. */
export const PRESIGN_EXPIRES_SECONDS = 60;
/** The CLI reports expiry as signing time + 14 min. */
export const TOKEN_LIFETIME_MS = EKS_TOKEN_LIFETIME_MS;

/** DNS suffix of the AWS partition a region belongs to (as botocore resolves the STS endpoint). */
export function partitionDnsSuffix(region: string): string {
  if (region.startsWith("cn-")) return "amazonaws.com.cn";
  if (region.startsWith("us-isob-")) return "sc2s.sgov.gov";
  if (region.startsWith("us-isof-")) return "csp.hci.ic.gov";
  if (region.startsWith("us-iso-")) return "c2s.ic.gov";
  if (region.startsWith("eu-isoe-")) return "cloud.adc-e.uk";
  if (region.startsWith("eusc-")) return "amazonaws.eu";
  return "amazonaws.com";
}

/** The regional STS host that signs and verifies the token, e.g. `sts.eu-west-1.amazonaws.com`. */
export function stsHost(region: string): string {
  if (!isAwsRegion(region)) throw new Error(`not an AWS region: ${JSON.stringify(region)}`);
  return `sts.${region}.${partitionDnsSuffix(region)}`;
}

/** RFC 3986 percent-encoding, as botocore's `percent_encode` (unreserved: A-Z a-z 0-9 - _ . ~). */
function encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Query parameters in the order botocore writes them (see the file comment). */
const QUERY_ORDER = [
  "Action",
  "Version",
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Security-Token",
  "X-Amz-Signature",
] as const;

/** The presigned STS URL inside the token. Secret-equivalent (it is the bearer credential). */
export async function presignGetCallerIdentityUrl(params: EksTokenParams): Promise<{ url: string; signedAt: Date }> {
  const { clusterName, region, credentials } = params;
  if (typeof clusterName !== "string" || clusterName.length === 0) throw new Error("EKS token: cluster name is empty");
  if (!credentials?.accessKeyId || !credentials.secretAccessKey) {
    throw new Error("EKS token: AWS credentials are incomplete (access key id or secret access key missing)");
  }
  const host = stsHost(region);
  const signedAt = new Date(Math.floor((params.now ?? new Date()).getTime() / 1000) * 1000);
  if (Number.isNaN(signedAt.getTime())) throw new Error("EKS token: invalid signing time");

  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
    region,
    service: "sts",
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: "GET",
    protocol: "https:",
    hostname: host,
    path: "/",
    query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
    headers: { host, [CLUSTER_ID_HEADER]: clusterName },
  });
  const signed = await signer.presign(request, { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate: signedAt });

  const query = signed.query as Record<string, string | string[] | null | undefined>;
  const unexpected = Object.keys(query).filter((k) => !(QUERY_ORDER as readonly string[]).includes(k));
  if (unexpected.length > 0) throw new Error(`EKS token: unexpected query parameters ${unexpected.join(", ")}`);
  const parts: string[] = [];
  for (const key of QUERY_ORDER) {
    const value = query[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") throw new Error(`EKS token: query parameter ${key} is not a single value`);
    parts.push(`${encode(key)}=${encode(value)}`);
  }
  return { url: `https://${host}/?${parts.join("&")}`, signedAt };
}

/** Builds an EKS bearer token (see the file comment). */
export async function createEksToken(params: EksTokenParams): Promise<EksToken> {
  const { url, signedAt } = await presignGetCallerIdentityUrl(params);
  const token = EKS_TOKEN_PREFIX + Buffer.from(url, "utf8").toString("base64url");
  rememberSecret(token, url);
  return { token, expiresAt: new Date(signedAt.getTime() + TOKEN_LIFETIME_MS) };
}

/** Decodes a token back into its presigned URL (for diagnostics and tests). */
export function decodeEksToken(token: string): URL {
  if (!token.startsWith(EKS_TOKEN_PREFIX)) throw new Error("not an EKS token (missing k8s-aws-v1. prefix)");
  return new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), "base64url").toString("utf8"));
}
