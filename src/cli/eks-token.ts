/**
 * `ecr-token-rotator eks-token --cluster NAME [--region R]`: prints an EKS bearer token as the
 * same ExecCredential JSON as `aws eks get-token --cluster-name NAME --region R` (byte for byte,
 * for the same credentials and second), so an operator can check what the function's
 * credentials can do in a cluster, and kubectl can use the command as an exec credential plugin.
 *
 * Credentials: the standard AWS environment variables (as given in `io.env`), else the default
 * Node credential chain (profiles, SSO, web identity, container and instance metadata).
 * Exit codes: 0 printed, 1 no credentials / signing failed, 2 bad usage.
 */
import { parseArgs } from "node:util";
import { createEksCredentialsProvider, type EksCredentialsProvider } from "../eks/connection";
import { createEksToken } from "../eks/token";
import { describeError } from "../shared/errors";
import { EKS_CLUSTER_NAME, isAwsRegion } from "../shared/names";
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
}

export const EKS_TOKEN_USAGE = `usage: ecr-token-rotator eks-token --cluster NAME [--region REGION]

Prints an EKS bearer token as ExecCredential JSON, exactly like
\`aws eks get-token --cluster-name NAME --region REGION\`.
The region defaults to AWS_REGION, then AWS_DEFAULT_REGION.

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
  return async () => ({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) });
}

export async function eksTokenCommand(argv: string[], io: EksTokenIo): Promise<number> {
  const stderr = io.stderr ?? (() => {});
  let values: { cluster?: string; "cluster-name"?: string; region?: string; help?: boolean };
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
  const usage = (message: string): number => {
    stderr(`ecr-token-rotator eks-token: ${message}\n\n${EKS_TOKEN_USAGE}`);
    return 2;
  };
  if (values.cluster !== undefined && values["cluster-name"] !== undefined && values.cluster !== values["cluster-name"]) {
    return usage("--cluster and --cluster-name disagree; give one");
  }
  const cluster = values.cluster ?? values["cluster-name"];
  if (!cluster) return usage("--cluster NAME is required");
  if (!EKS_CLUSTER_NAME.test(cluster)) return usage(`${JSON.stringify(cluster)} is not a valid EKS cluster name`);
  const region = values.region || io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION;
  if (!region) return usage("no region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)");
  if (!isAwsRegion(region)) return usage(`${JSON.stringify(region)} is not an AWS region`);

  try {
    const provider = io.credentials ?? envCredentials(io.env) ?? createEksCredentialsProvider(region);
    const credentials = await provider();
    const now = typeof io.now === "function" ? io.now() : io.now;
    const { token, expiresAt } = await createEksToken({ clusterName: cluster, region, credentials, ...(now ? { now } : {}) });
    const apiVersion = execCredentialApiVersion(io.env.KUBERNETES_EXEC_INFO, stderr);
    io.stdout(formatExecCredential(apiVersion, token, expiresAt));
    return 0;
  } catch (error) {
    stderr(`ecr-token-rotator eks-token: ${describeError(error)}`);
    return 1;
  }
}
