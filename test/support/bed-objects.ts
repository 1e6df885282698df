// What the heal tests on the bed (heal-bed, heal-safety-bed, dry-run-bed) set up before a run:
// moto's ECR token and the clock they run the product at, and the Secrets and ExternalSecrets
// they apply with kubectl as the bed's admin.
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import type { Bed } from "../bed/index";
import type { LooseJson } from "./loose-json";

export type DockerAuths = Record<string, { username: string; password: string; auth: string }>;

/** The label by which the product knows a pull secret as its own. */
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "ecr-token-rotator" };

/**
 * moto's ECR token (read through the AWS settings already in process.env): its password, and the
 * moment 11 hours before it expires, the clock the tests run the product at.
 */
export async function motoEcrToken(): Promise<{ password: string; issued: Date }> {
  const data = (await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
  return {
    password: Buffer.from(data.authorizationToken!, "base64").toString().split(":").slice(1).join(":"),
    issued: new Date(data.expiresAt!.getTime() - 11 * 3600_000),
  };
}

/** A registry login as a dockerconfigjson holds it. */
export function login(username: string, password: string): DockerAuths[string] {
  return { username, password, auth: Buffer.from(`${username}:${password}`).toString("base64") };
}

/** A kubernetes.io/dockerconfigjson Secret named ecr-pull-secret holding `auths`; `metadata` adds labels, owner references. */
export function pullSecretManifest(namespace: string, auths: DockerAuths, metadata: Record<string, unknown> = {}): object {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/dockerconfigjson",
    metadata: { name: "ecr-pull-secret", namespace, ...metadata },
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths })).toString("base64") },
  };
}

/** An Opaque Secret named ecr-pull-secret (the product's name, not its type) holding token=keep-me. */
export function opaqueSecretManifest(namespace: string): object {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: "ecr-pull-secret", namespace },
    data: { token: Buffer.from("keep-me").toString("base64") },
  };
}

/**
 * An ExternalSecret `namespace/name` reading production/ecr/credentials into `target` (default: a
 * Secret ecr-from-eso, not the product's).
 */
export function externalSecretManifest(namespace: string, name: string, opts: { labels?: Record<string, string>; target?: object } = {}): object {
  return {
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    metadata: { name, namespace, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      refreshInterval: "1h",
      secretStoreRef: { kind: "ClusterSecretStore", name: "aws" },
      target: opts.target ?? { name: "ecr-from-eso" },
      data: [{ secretKey: "token", remoteRef: { key: "production/ecr/credentials", property: "auth_token" } }],
    },
  };
}

/** Applies `items` as one List with kubectl as the bed's admin; fails on a kubectl error. */
export async function applyItems(bed: Bed, items: object[]): Promise<void> {
  await bed.kubectl(["apply", "-f", "-"], { check: true, input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
}

/** `kubectl get … -o json` as the bed's admin, parsed. */
export async function kubectlJson(bed: Bed, args: string[]): Promise<LooseJson> {
  return JSON.parse((await bed.kubectl([...args, "-o", "json"], { check: true })).stdout);
}
