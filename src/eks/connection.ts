/**
 * How the product reaches a cluster's API server: endpoint + CA from EKS `DescribeCluster` (or
 * a per-cluster override from the configuration, which skips the call), and AWS credentials from
 * the default Node credential chain for signing the bearer token. EKS is reached only through
 * the narrow {@link DescribeClusterFn}, so the logic runs in tests without a network.
 * Slightly over 300 lines: the override, DescribeCluster and assumed-role paths share one
 * validation of what a cluster entry yields.
 *
 * Errors never carry secret values: credential values are registered with the redaction guard
 * as soon as they are resolved, and every message built here passes through `scrubSecrets`.
 */
import { DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { EksConnectionError, type EksConnectionProblem } from "../shared/errors";
import { rememberSecret, scrubSecrets } from "../shared/redact";
import { isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { currentSdkDeadline, SDK_CLIENT_OPTIONS, sdkSend } from "../shared/sdk-call";
import { AssumeRoleError, type AssumedRole, type AssumedRoleCache, type AssumeRoleRequest } from "./assume-role";
import type { EksCredentials, EksToken } from "./token";
import { eksTokenCache, type EksTokenCache } from "./token-cache";

/** The part of an EKS `DescribeCluster` response this module reads. */
export interface DescribeClusterResult {
  cluster?: {
    name?: string;
    status?: string;
    endpoint?: string;
    certificateAuthority?: { data?: string };
  };
}

export type DescribeClusterFn = (name: string) => Promise<DescribeClusterResult>;

export interface ClusterRef {
  name: string;
  region: string;
  /** API endpoint override (proxy, private DNS, the test bed). */
  endpoint?: string;
  /** Base64 PEM CA bundle override. */
  caData?: string;
  /** The role DescribeCluster runs as, when not the function's own (a cluster in another account). */
  roleArn?: string;
}

export interface ClusterConnection {
  /** `https://…` API server URL, no trailing slash. */
  server: string;
  /** Base64 PEM CA bundle, as EKS returns it. */
  caData: string;
}

export { EksConnectionError, type EksConnectionProblem };

function errorName(error: unknown): string {
  if (error && typeof error === "object") {
    const e = error as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [e.name, e.Code, e.code]) if (typeof v === "string" && v !== "Error") return v;
  }
  return "";
}

function errorMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  return scrubSecrets(raw).slice(0, 300);
}

/**
 * Cluster states whose API server serves: `UPDATING` (a version, add-on or configuration update)
 * keeps the endpoint answering, so a heal during an upgrade must not fail.
 */
const USABLE_STATUSES = new Set(["ACTIVE", "UPDATING"]);
const STATUS_MEANING: Record<string, string> = {
  CREATING: "the cluster is still being created; its API server does not serve yet — retry when it is ACTIVE",
  DELETING: "the cluster is being deleted; remove it from EKS_CLUSTERS",
  FAILED: "the cluster failed to create or update; see its health issues in the EKS console (aws eks describe-cluster) and fix or remove it from EKS_CLUSTERS",
  PENDING: "the cluster is not ready yet; retry when it is ACTIVE",
};

/**
 * Endpoint and CA of a cluster. With both `endpoint` and `caData` configured, EKS is not called;
 * otherwise `DescribeCluster` must report the cluster `ACTIVE` or `UPDATING` with an endpoint and a CA (a
 * configured `endpoint` or `caData` alone replaces only that field of the answer).
 */
export async function resolveClusterConnection(describe: DescribeClusterFn, cluster: ClusterRef): Promise<ClusterConnection> {
  if (cluster.endpoint && cluster.caData) {
    return { server: cluster.endpoint.replace(/\/+$/, ""), caData: cluster.caData };
  }
  let out: DescribeClusterResult;
  try {
    out = await describe(cluster.name);
  } catch (error) {
    // The invocation's deadline is not a cluster problem: the caller reports it as `skipped`.
    if (isDeadlineExceeded(error)) throw error;
    throw describeFailure(error, cluster);
  }
  return connectionFrom(out?.cluster, cluster);
}

const where = (cluster: ClusterRef): string => `EKS cluster ${cluster.name} (${cluster.region})`;

/** A DescribeCluster call that failed, as the EksConnectionError of its kind. */
function describeFailure(error: unknown, cluster: ClusterRef): EksConnectionError {
  const name = errorName(error);
  if (name === "ResourceNotFoundException") {
    return new EksConnectionError(
      "not-found",
      cluster.name,
      cluster.region,
      `${where(cluster)} does not exist (DescribeCluster: ResourceNotFoundException); check EKS_CLUSTERS and the region`,
    );
  }
  if (name === "AccessDeniedException" || name === "UnauthorizedOperation" || name === "UnrecognizedClientException" || name === "ExpiredTokenException") {
    return new EksConnectionError(
      "access-denied",
      cluster.name,
      cluster.region,
      `${where(cluster)}: DescribeCluster was refused (${name}); ${cluster.roleArn ? `the role ${cluster.roleArn}` : "the function's role"} needs eks:DescribeCluster on this cluster: ${errorMessage(error)}`,
    );
  }
  if (name === "CredentialsProviderError") {
    return new EksConnectionError(
      "credentials",
      cluster.name,
      cluster.region,
      `${where(cluster)}: no AWS credentials for DescribeCluster: ${errorMessage(error)}`,
    );
  }
  return new EksConnectionError(
    "api-error",
    cluster.name,
    cluster.region,
    `${where(cluster)}: DescribeCluster failed${name ? ` (${name})` : ""}: ${errorMessage(error)}`,
  );
}

/** The connection from DescribeCluster's answer (a configured endpoint or caData replacing its field), or why there is none. */
function connectionFrom(info: DescribeClusterResult["cluster"], cluster: ClusterRef): ClusterConnection {
  if (info === undefined) {
    throw new EksConnectionError("not-found", cluster.name, cluster.region, `${where(cluster)}: DescribeCluster returned no cluster`);
  }
  if (!USABLE_STATUSES.has(info.status ?? "")) {
    const why = STATUS_MEANING[info.status ?? ""] ?? "its API server cannot be relied on";
    throw new EksConnectionError(
      "not-active",
      cluster.name,
      cluster.region,
      `${where(cluster)} is ${info.status ?? "in an unknown state"}, not ACTIVE or UPDATING: ${why}`,
    );
  }
  const server = cluster.endpoint ?? info.endpoint;
  const caData = cluster.caData ?? info.certificateAuthority?.data;
  const missing = [server ? undefined : "endpoint", caData ? undefined : "certificate authority"].filter(Boolean);
  if (!server || !caData) {
    throw new EksConnectionError(
      "incomplete",
      cluster.name,
      cluster.region,
      `${where(cluster)} is ${info.status} but DescribeCluster returned no ${missing.join(" and no ")}`,
    );
  }
  if (!/^https:\/\/[^\s/]+(:\d+)?\/?$/.test(server)) {
    throw new EksConnectionError(
      "incomplete",
      cluster.name,
      cluster.region,
      `${where(cluster)}: API endpoint ${JSON.stringify(server)} is not an https:// URL`,
    );
  }
  return { server: server.replace(/\/+$/, ""), caData: caData.replace(/\s+/g, "") };
}

const eksClients = new Map<string, EKSClient>();

/** One EKS client per region (reused across warm invocations). Honours AWS_ENDPOINT_URL. */
export function eksClientFor(region: string): EKSClient {
  let client = eksClients.get(region);
  if (client === undefined) {
    client = new EKSClient({ region, ...SDK_CLIENT_OPTIONS });
    eksClients.set(region, client);
  }
  return client;
}

/** A {@link DescribeClusterFn} backed by `@aws-sdk/client-eks` for one region, each call ending by `deadline`. */
export function sdkDescribeCluster(region: string, client: EKSClient = eksClientFor(region), deadline?: Deadline): DescribeClusterFn {
  return async (name) => {
    const out = await sdkSend(deadline, "EKS DescribeCluster", (options) => client.send(new DescribeClusterCommand({ name }), options));
    return {
      cluster: out.cluster && {
        name: out.cluster.name,
        status: out.cluster.status,
        endpoint: out.cluster.endpoint,
        certificateAuthority: { data: out.cluster.certificateAuthority?.data },
      },
    };
  };
}

export type EksCredentialsProvider = () => Promise<EksCredentials>;

/**
 * AWS credentials from the default Node chain (environment, SSO/profile, web identity, ECS,
 * instance metadata — the same chain every SDK client uses), resolved through an EKS client's
 * config so no extra dependency is needed. The secret values are registered with the redaction
 * guard; failures are reported without them.
 */
export function createEksCredentialsProvider(region: string, client: EKSClient = eksClientFor(region)): EksCredentialsProvider {
  return async () => {
    let identity: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string };
    try {
      identity = await client.config.credentials();
    } catch (error) {
      throw new EksConnectionError(
        "credentials",
        "-",
        region,
        `no AWS credentials to sign the EKS token (default credential chain): ${errorName(error) || "error"}: ${errorMessage(error)}`,
      );
    }
    if (!identity?.accessKeyId || !identity.secretAccessKey) {
      throw new EksConnectionError(
        "credentials",
        "-",
        region,
        "the default credential chain returned incomplete AWS credentials (no access key id or secret access key)",
      );
    }
    rememberSecret(identity.secretAccessKey, identity.sessionToken);
    return {
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      ...(identity.sessionToken ? { sessionToken: identity.sessionToken } : {}),
    };
  };
}

export interface ClusterAccess extends ClusterConnection, EksToken {}

export interface ClusterAccessDeps {
  describe: DescribeClusterFn;
  credentials: EksCredentialsProvider;
  /** Default: the process-wide cache (tokens survive warm invocations). */
  cache?: EksTokenCache;
}

/** Everything needed to call a cluster's API server: endpoint, CA and a (cached) bearer token. */
export async function getClusterAccess(cluster: ClusterRef, deps: ClusterAccessDeps): Promise<ClusterAccess> {
  const connection = await resolveClusterConnection(deps.describe, cluster);
  let credentials: EksCredentials;
  try {
    credentials = await deps.credentials();
  } catch (error) {
    if (error instanceof EksConnectionError) {
      throw new EksConnectionError(error.problem, cluster.name, cluster.region, `EKS cluster ${cluster.name} (${cluster.region}): ${error.message}`);
    }
    throw new EksConnectionError(
      "credentials",
      cluster.name,
      cluster.region,
      `EKS cluster ${cluster.name} (${cluster.region}): no AWS credentials to sign the token: ${errorMessage(error)}`,
    );
  }
  // The role is part of the token cache's key: a token signed as one role is never handed out for another.
  const token = await (deps.cache ?? eksTokenCache).get({ clusterName: cluster.name, region: cluster.region, credentials, roleArn: cluster.roleArn });
  return { ...connection, ...token };
}

const roleEksClients = new Map<string, EKSClient>();

/**
 * An EKS client of one region that signs with an assumed role's (cached, refreshed) credentials.
 * The client outlives invocations, so the SDK's credential callback takes the deadline of the
 * call it runs in ({@link currentSdkDeadline}): an AssumeRole it makes ends by that deadline,
 * not only by the SDK's per-attempt timeout.
 */
export function eksClientForRole(request: AssumeRoleRequest, cache: AssumedRoleCache): EKSClient {
  const key = JSON.stringify([request.region, request.roleArn, request.externalId ?? null, request.sessionName]);
  let client = roleEksClients.get(key);
  if (client === undefined) {
    client = new EKSClient({
      region: request.region,
      ...SDK_CLIENT_OPTIONS,
      credentials: async () => {
        const role = await cache.get(request, currentSdkDeadline());
        return { ...role.credentials, expiration: role.expiresAt };
      },
    });
    roleEksClients.set(key, client);
  }
  return client;
}

export interface AssumedClusterAccess extends ClusterAccess {
  /** The assumed role: the identity the cluster sees (for error messages; no secrets). */
  identity: { roleArn: string; assumedRoleArn: string };
}

export interface AssumedClusterAccessDeps {
  cache: AssumedRoleCache;
  /** Default: `DescribeCluster` through an EKS client signing as the assumed role. */
  describe?: DescribeClusterFn;
  tokens?: EksTokenCache;
  /** The invocation's deadline: bounds the AssumeRole and DescribeCluster calls. */
  deadline?: Deadline;
}

/**
 * A cluster in another account: assume its role first (a refusal names the role and the trust
 * policy to fix), then DescribeCluster and the bearer token with the role's credentials.
 */
export async function getAssumedClusterAccess(cluster: ClusterRef, request: AssumeRoleRequest, deps: AssumedClusterAccessDeps): Promise<AssumedClusterAccess> {
  let role: AssumedRole;
  try {
    role = await deps.cache.get(request, deps.deadline);
  } catch (error) {
    // The invocation's deadline is not a cluster problem: the caller reports it as `skipped`.
    if (isDeadlineExceeded(error)) throw error;
    const problem: EksConnectionProblem =
      error instanceof AssumeRoleError
        ? error.problem === "access-denied"
          ? "access-denied"
          : error.problem === "credentials"
            ? "credentials"
            : "api-error"
        : "api-error";
    throw new EksConnectionError(
      problem,
      cluster.name,
      cluster.region,
      `EKS cluster ${cluster.name} (${cluster.region}): ${error instanceof AssumeRoleError ? error.message : errorMessage(error)}`,
    );
  }
  const access = await getClusterAccess(
    { ...cluster, roleArn: request.roleArn },
    {
      describe: deps.describe ?? sdkDescribeCluster(cluster.region, eksClientForRole(request, deps.cache), deps.deadline),
      credentials: async () => (await deps.cache.get(request, deps.deadline)).credentials,
      ...(deps.tokens ? { cache: deps.tokens } : {}),
    },
  );
  return { ...access, identity: { roleArn: role.roleArn, assumedRoleArn: role.assumedRoleArn } };
}
