/**
 * Secrets read from other accounts and regions. After the product wrote (or checked) one of its
 * secrets:
 *   - SECRET_READERS: the secret's resource policy lets exactly those principals read it
 *     (PutResourcePolicy with BlockPublicPolicy; only when the stored policy differs);
 *   - SECRET_REPLICA_REGIONS: missing replicas are added (ReplicateSecretToRegions), and after
 *     every write the ReplicationStatus is read again: a `Failed` replica is an error.
 * A dry run reads and says what it would do. Nothing here reads or returns the secret's value.
 */
import type { ReplicaRegion } from "../config/config";
import { describeError } from "../shared/errors";
import type { ReplicaStatus, SecretDescription, SecretsApi } from "./secrets-manager";
import type { SecretWriteResult } from "./secret-writer";

export interface SharingConfig {
  /** Principal ARNs or 12-digit account IDs (SECRET_READERS). */
  readers: readonly string[];
  replicas: readonly ReplicaRegion[];
}

export type PolicyOutcome = "put" | "unchanged" | "would-put" | "failed";

export interface SharingResult {
  resourcePolicy?: PolicyOutcome;
  /** Replicas as read after the write (dry run: as they stand). */
  replicas?: ReplicaStatus[];
  /** Regions added by this run (dry run: that would be added). */
  replicasAdded?: string[];
  /** Problems: a failed replica, a refused policy. Each names the secret. */
  errors: string[];
}

export const READERS_STATEMENT_SID = "EcrTokenRotatorReaders";
export const READER_ACTIONS = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"] as const;

/** The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`, …); `aws` when unknown. */
export function partitionOf(arn: string | undefined): string {
  return /^arn:(aws[a-z-]*):/.exec(arn ?? "")?.[1] ?? "aws";
}

/** Reader principals as IAM ARNs: an account ID becomes that account's root. Sorted, unique. */
export function readerPrincipals(readers: readonly string[], partition: string): string[] {
  return [...new Set(readers.map((r) => (/^\d{12}$/.test(r) ? `arn:${partition}:iam::${r}:root` : r)))].sort();
}

/** The resource policy the product puts on its secrets. Pure. */
export function readerPolicy(readers: readonly string[], partition: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: READERS_STATEMENT_SID,
        Effect: "Allow",
        Principal: { AWS: readerPrincipals(readers, partition) },
        Action: [...READER_ACTIONS],
        Resource: "*",
      },
    ],
  });
}

/** A policy document reduced to what matters, so AWS's re-formatting does not count as a change. */
function normalisePolicy(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const doc = JSON.parse(text) as { Version?: unknown; Statement?: unknown };
    const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
    const asText = (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x));
    const list = (v: unknown) => (Array.isArray(v) ? v.map(asText) : v === undefined ? [] : [asText(v)]).sort();
    return JSON.stringify({
      Version: doc.Version,
      Statement: statements.map((s) => {
        const st = (s ?? {}) as Record<string, unknown>;
        const principal = st.Principal as { AWS?: unknown } | string | undefined;
        return {
          Sid: st.Sid,
          Effect: st.Effect,
          Principal: typeof principal === "object" && principal !== null ? list(principal.AWS) : principal,
          Action: list(st.Action),
          Resource: list(st.Resource),
          Condition: st.Condition,
        };
      }),
    });
  } catch {
    return `unparseable:${text}`;
  }
}

export function samePolicy(current: string | undefined, desired: string): boolean {
  return normalisePolicy(current) === normalisePolicy(desired);
}

export interface ShareRequest {
  name: string;
  dryRun: boolean;
  /** What writeOwnedSecret did, with the secret's description before the write (if it existed). */
  write: SecretWriteResult;
}

async function applyPolicy(
  api: SecretsApi,
  request: ShareRequest,
  readers: readonly string[],
  arn: string | undefined,
  errors: string[],
): Promise<PolicyOutcome> {
  const { name } = request;
  if (request.write.outcome === "would-create") return "would-put";
  try {
    const desired = readerPolicy(readers, partitionOf(arn));
    if (samePolicy(await api.getResourcePolicy(name), desired)) return "unchanged";
    if (request.dryRun) return "would-put";
    await api.putResourcePolicy(name, desired);
    return "put";
  } catch (error) {
    errors.push(`${name}: resource policy for SECRET_READERS not put: ${describeError(error)}`);
    return "failed";
  }
}

async function applyReplicas(
  api: SecretsApi,
  request: ShareRequest,
  replicas: readonly ReplicaRegion[],
  before: SecretDescription | undefined,
  result: SharingResult,
): Promise<void> {
  const { name, write } = request;
  const { errors } = result;
  if (write.outcome === "would-create") {
    result.replicasAdded = replicas.map((r) => r.region);
    return;
  }
  try {
    // A created secret got its replicas with CreateSecret; an existing one gains the missing ones.
    let status = before?.replication ?? [];
    let wrote = write.outcome === "created" || write.outcome === "updated";
    if (before !== undefined) {
      const missing = replicas.filter((r) => !status.some((s) => s.region === r.region));
      if (missing.length > 0) {
        result.replicasAdded = missing.map((r) => r.region);
        if (!request.dryRun) {
          status = await api.replicate(name, missing);
          wrote = true;
        }
      }
    }
    // After each write, read the ReplicationStatus as it now stands.
    if (wrote && !request.dryRun) status = (await api.describe(name))?.replication ?? status;
    result.replicas = status;
    for (const replica of status) {
      if (replica.status === "Failed") {
        errors.push(`${name}: replica in ${replica.region} Failed${replica.message ? `: ${replica.message}` : ""}`);
      }
    }
  } catch (error) {
    errors.push(`${name}: replicas (SECRET_REPLICA_REGIONS) not checked: ${describeError(error)}`);
  }
}

/** Resource policy and replicas of one owned secret (see the file comment). */
export async function shareOwnedSecret(api: SecretsApi, request: ShareRequest, config: SharingConfig): Promise<SharingResult> {
  const result: SharingResult = { errors: [] };
  if (config.readers.length === 0 && config.replicas.length === 0) return result;
  const before = request.write.description;
  const arn = request.write.arn ?? before?.arn;
  if (config.readers.length > 0) result.resourcePolicy = await applyPolicy(api, request, config.readers, arn, result.errors);
  if (config.replicas.length > 0) await applyReplicas(api, request, config.replicas, before, result);
  return result;
}
