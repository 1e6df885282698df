/**
 * `ecr-token-rotator eks-token --cluster NAME [--region R]`: prints an EKS bearer token as the
 * same ExecCredential JSON as `aws eks get-token --cluster-name NAME --region R` (byte for byte,
 * for the same credentials and second), so kubectl can use the command as an exec credential
 * plugin. The token is signed locally: printing it proves nothing about the cluster (a cluster
 * that does not exist, or a wrong secret key, still gets a token).
 *
 * `--check` asks the cluster instead: it sends a SelfSubjectReview with the token and says who
 * the cluster thinks we are, or why it refused (401: the likely causes; network: the URL and
 * the error). Endpoint and CA: the cluster's EKS_CLUSTERS entry if it has them, else DescribeCluster.
 *
 * Credentials: the standard AWS environment variables (as given in `io.env`), else the default
 * Node credential chain (profiles, SSO, web identity, container and instance metadata).
 * Exit codes: 0 printed, 1 no credentials / signing failed, 2 bad usage.
 */
import { parseArgs } from "node:util";
import { loadConfig, type ClusterConfig } from "../config/config";
import {
  createEksCredentialsProvider,
  resolveClusterConnection,
  sdkDescribeCluster,
  type DescribeClusterFn,
  type EksCredentialsProvider,
} from "../eks/connection";
import { createEksToken } from "../eks/token";
import { checkRegion } from "../formats/region";
import { UNAUTHORIZED_CAUSES } from "../shared/next-step";
import { networkHint } from "../shared/problem-text";
import { deadlineIn, type Deadline } from "../shared/deadline";
import { KubeApiError } from "../kube/types";
import { describeError } from "../shared/errors";
import { EKS_CLUSTER_NAME } from "../shared/names";
import { rememberSecret } from "../shared/redact";

export interface EksTokenIo {
  env: Record<string, string | undefined>;
  /** Signing time (default: the system clock). */
  now?: Date | (() => Date);
  /**
   * Receives the whole document once. Like the CLI's `main`, the writer is expected to append a
   * newline; the text passed already ends with one, which reproduces the AWS CLI's output
   * (JSON, newline, empty line) exactly.
   */
  stdout: (text: string) => void;
  stderr?: (text: string) => void;
  /** Credential source override (tests); default: environment, then the default Node chain. */
  credentials?: EksCredentialsProvider;
  /** Where the configuration came from, for the first line (e.g. "function rotator-prod"). */
  source?: string;
  /** A person is watching (stdout is a terminal): say what the command acts on first. */
  terminal?: boolean;
  /** DescribeCluster for --check (tests); default: @aws-sdk/client-eks in the cluster's region. */
  describe?: DescribeClusterFn;
  /** The deadline of --check (DescribeCluster and the SelfSubjectReview); default {@link EKS_TOKEN_CHECK_TIMEOUT_MS} from now. */
  deadline?: Deadline;
}

/**
 * --check ends by then, whatever the cluster does (a server that trickles its answer included):
 * DescribeCluster and the SelfSubjectReview share this deadline.
 */
export const EKS_TOKEN_CHECK_TIMEOUT_MS = 30_000;

export const EKS_TOKEN_USAGE = `usage: ecr-token-rotator eks-token --cluster NAME [--region REGION] [--check] [--function NAME]

Prints an EKS bearer token as ExecCredential JSON, exactly like
\`aws eks get-token --cluster-name NAME --region REGION\`. The token is signed locally: it
is printed even for a cluster that does not exist or with a wrong secret key.
The region defaults to the cluster's EKS_CLUSTERS entry, then AWS_REGION, AWS_DEFAULT_REGION.

  --check   send the token to the cluster (a SelfSubjectReview) and print who the cluster
            thinks we are, or why it refused; nothing else is printed on stdout
  --function NAME   use the deployed function's configuration (its EKS_CLUSTERS, region)

As a kubectl exec credential plugin (kubeconfig users[].user):
  exec:
    apiVersion: client.authentication.k8s.io/v1beta1
    command: ecr-token-rotator
    args: [eks-token, --cluster, NAME, --region, REGION]
    interactiveMode: Never`;

const V1 = "client.authentication.k8s.io/v1";
const V1BETA1 = "client.authentication.k8s.io/v1beta1";
const V1ALPHA1 = "client.authentication.k8s.io/v1alpha1";

/**
 * The ExecCredential apiVersion, chosen from KUBERNETES_EXEC_INFO as the AWS CLI does: v1 and
 * v1beta1 are echoed, v1alpha1 is echoed with a deprecation note, anything else (or a
 * malformed value) falls back to v1beta1 with a note; no variable at all means v1beta1.
 */
export function execCredentialApiVersion(execInfo: string | undefined, warn: (text: string) => void): string {
  if (!execInfo) return V1BETA1;
  let parsed: unknown;
  try {
    parsed = JSON.parse(execInfo);
  } catch {
    warn(`Error parsing KUBERNETES_EXEC_INFO, defaulting to ${V1BETA1}. This is likely a bug in your Kubernetes client. Please update your Kubernetes client.`);
    return V1BETA1;
  }
  const apiVersion = parsed !== null && typeof parsed === "object" ? (parsed as { apiVersion?: unknown }).apiVersion : undefined;
  if (apiVersion === V1 || apiVersion === V1BETA1) return apiVersion;
  if (apiVersion === V1ALPHA1) {
    warn(`Kubeconfig user entry is using deprecated API version ${V1ALPHA1}. Run 'aws eks update-kubeconfig' to update.`);
    return V1ALPHA1;
  }
  warn(`Unrecognized API version in KUBERNETES_EXEC_INFO, defaulting to ${V1BETA1}. This is likely due to an outdated AWS CLI. Please update your AWS CLI.`);
  return V1BETA1;
}

/** The ExecCredential document, key order and timestamp format as the AWS CLI writes them. */
export function formatExecCredential(apiVersion: string, token: string, expiresAt: Date): string {
  const expirationTimestamp = expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  const doc = { kind: "ExecCredential", apiVersion, spec: {}, status: { expirationTimestamp, token } };
  return `${JSON.stringify(doc, null, 4)}\n`;
}

function envCredentials(env: Record<string, string | undefined>): EksCredentialsProvider | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  rememberSecret(secretAccessKey, sessionToken);
  return () => Promise.resolve({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) });
}

type EksTokenArgs = { cluster?: string; "cluster-name"?: string; region?: string; help?: boolean; check?: boolean };

/** The cluster and region a run of eks-token is for, with its configured entry (endpoint, CA) if any. */
interface EksTokenTarget {
  cluster: string;
  region: string;
  entry: ClusterConfig | undefined;
}

/** The options, or the exit code when they are bad (usage printed) or only --help was asked. */
function parseEksTokenArgs(argv: string[], io: EksTokenIo, stderr: (text: string) => void): EksTokenArgs | number {
  let values: EksTokenArgs;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        cluster: { type: "string" },
        "cluster-name": { type: "string" },
        region: { type: "string" },
        help: { type: "boolean", short: "h" },
        check: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    stderr(`ecr-token-rotator eks-token: ${(error as Error).message}\n\n${EKS_TOKEN_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(EKS_TOKEN_USAGE);
    return 0;
  }
  return values;
}

/** The target from the options and the configured clusters, or a usage error's message. */
function resolveEksTokenTarget(values: EksTokenArgs, env: Record<string, string | undefined>): EksTokenTarget | { usage: string } {
  if (values.cluster !== undefined && values["cluster-name"] !== undefined && values.cluster !== values["cluster-name"]) {
    return { usage: "--cluster and --cluster-name disagree; give one" };
  }
  const configured = configuredClusters(env);
  const cluster = values.cluster ?? values["cluster-name"] ?? (configured.length === 1 ? configured[0]!.name : undefined);
  if (!cluster) return { usage: `--cluster NAME is required${configured.length > 1 ? ` (configured: ${configured.map((c) => c.name).join(", ")})` : ""}` };
  if (!EKS_CLUSTER_NAME.test(cluster)) return { usage: `${JSON.stringify(cluster)} is not a valid EKS cluster name` };
  const entry = configured.find((c) => c.name === cluster && (!values.region || c.region === values.region));
  const region = values.region || entry?.region || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) return { usage: "no region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)" };
  const regionCheck = checkRegion(region);
  if (!regionCheck.ok) return { usage: regionCheck.problem };
  return { cluster, region, entry };
}

export async function eksTokenCommand(argv: string[], io: EksTokenIo): Promise<number> {
  const stderr = io.stderr ?? (() => {});
  const values = parseEksTokenArgs(argv, io, stderr);
  if (typeof values === "number") return values;
  const target = resolveEksTokenTarget(values, io.env);
  if ("usage" in target) {
    stderr(`ecr-token-rotator eks-token: ${target.usage}\n\n${EKS_TOKEN_USAGE}`);
    return 2;
  }
  const { cluster, region, entry } = target;
  if (values.check || io.terminal) {
    stderr(
      `eks-token: cluster ${cluster} in ${region}${entry?.endpoint ? ` at ${entry.endpoint}` : ""}; identity: your AWS credentials; configuration: ${io.source ?? "this shell's environment"}`,
    );
  }

  let token: string;
  let expiresAt: Date;
  try {
    const provider = io.credentials ?? envCredentials(io.env) ?? createEksCredentialsProvider(region);
    const credentials = await provider();
    const now = typeof io.now === "function" ? io.now() : io.now;
    ({ token, expiresAt } = await createEksToken({ clusterName: cluster, region, credentials, ...(now ? { now } : {}) }));
  } catch (error) {
    stderr(`ecr-token-rotator eks-token: ${describeError(error)}`);
    return 1;
  }
  if (values.check)
    return checkToken(
      io,
      stderr,
      { name: cluster, region, ...(entry?.endpoint ? { endpoint: entry.endpoint } : {}), ...(entry?.caData ? { caData: entry.caData } : {}) },
      token,
    );
  const apiVersion = execCredentialApiVersion(io.env.KUBERNETES_EXEC_INFO, stderr);
  io.stdout(formatExecCredential(apiVersion, token, expiresAt));
  return 0;
}

/** Why --check failed, by the failure's Problem: the 401 causes, the 403 meaning, the network class's hint. */
function checkFailure(error: unknown, where: string, server: string): string {
  const p = error instanceof KubeApiError ? error.problem : undefined;
  switch (p?.kind) {
    case "unauthorized":
      return `${where} at ${server} refused the token (401 Unauthorized); ${UNAUTHORIZED_CAUSES}`;
    case "forbidden":
      return `${where} at ${server} authenticated the token but forbids SelfSubjectReview (403: ${error instanceof Error ? error.message : ""}); the identity is known to the cluster, its RBAC is the next thing to check`;
    case "network":
      return `${where}: ${networkHint(p)}`;
    default:
      return `${where} at ${server}: ${describeError(error)}`;
  }
}

/** The clusters of EKS_CLUSTERS, if the configuration reads (a bad one is the other commands' business). */
function configuredClusters(env: Record<string, string | undefined>): ClusterConfig[] {
  try {
    return loadConfig(env, { purpose: "diagnose" }).kubernetes.clusters;
  } catch {
    return [];
  }
}

/** --check: a SelfSubjectReview with the token; exit 0 when the cluster knows us, 1 otherwise. */
async function checkToken(
  io: EksTokenIo,
  stderr: (text: string) => void,
  cluster: { name: string; region: string; endpoint?: string; caData?: string },
  token: string,
): Promise<number> {
  const where = `cluster ${cluster.name} (${cluster.region})`;
  const deadline = io.deadline ?? deadlineIn(EKS_TOKEN_CHECK_TIMEOUT_MS);
  let server: string;
  let caData: string;
  try {
    ({ server, caData } = await resolveClusterConnection(io.describe ?? sdkDescribeCluster(cluster.region, undefined, deadline), cluster));
  } catch (error) {
    stderr(`ecr-token-rotator eks-token --check: ${describeError(error)}`);
    return 1;
  }
  const { selfSubjectReview } = await import("../kube/whoami");
  try {
    const me = await selfSubjectReview({ server, caData, token }, { deadline });
    const arn = me.extra.arn?.[0];
    io.stdout(
      `${where} at ${server} accepts the token: it knows you as ${JSON.stringify(me.username)}` +
        `${arn ? ` (IAM ${arn})` : ""}, groups: ${me.groups.length > 0 ? me.groups.join(", ") : "none"}`,
    );
    return 0;
  } catch (error) {
    stderr(`ecr-token-rotator eks-token --check: ${checkFailure(error, where, server)}`);
    return 1;
  }
}
