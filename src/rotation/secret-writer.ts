/**
 * Writes one product-owned secret: create when missing, refuse foreign or malformed secrets,
 * debounce, skip identical content, idempotent ClientRequestToken. Nothing is written on any
 * refusal; a dry run reads but never writes.
 *
 * The debounce keeps a stored version younger than the window only while the token it holds is
 * valid for at least `minValiditySeconds`: an expired or nearly expired token is replaced
 * whatever its age. A CreateSecret that meets ResourceExistsException (another run created the
 * secret between our read and our create) re-reads the secret and continues from what is there.
 */
import { createHash } from "node:crypto";
import { SecretRefusedError } from "../shared/errors";
import { OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE } from "../config/config";
import { secondsUntil } from "../formats/ecr-token";
import { checkStoredValue, storedExpiry } from "./secret-payload";
import type { ReplicaRegion } from "../config/config";
import type { SecretDescription, SecretsApi } from "./secrets-manager";

export type WriteOutcome = "created" | "updated" | "unchanged" | "debounced" | "would-create" | "would-update";

export interface SecretWriteRequest {
  name: string;
  kind: "registry" | "combined";
  value: object;
  /** For a registry secret: the registry host it is stored for (a stored `registry_url` must match). */
  registryHost?: string | undefined;
  /** Wall clock: the debounce compares it with the version's CreatedDate. */
  now: Date;
  /** The instant a stored token's `expires_at` is judged against (defaults to `now`). */
  tokenNow?: Date | undefined;
  /** The debounce never keeps a stored token valid for less than this (TOKEN_MIN_VALIDITY_MINUTES). */
  minValiditySeconds: number;
  force: boolean;
  dryRun: boolean;
  adopt: boolean;
  debounceSeconds: number;
  kmsKeyId: string | undefined;
  tags: Record<string, string>;
  /** SECRET_REPLICA_REGIONS: a secret created now gets these replicas. */
  replicaRegions?: readonly ReplicaRegion[];
  /** When set, a missing secret is not created: the refusal's reason (the CLI's --create guard). */
  refuseCreate?: string | undefined;
}

export interface SecretWriteResult {
  secretName: string;
  outcome: WriteOutcome;
  reason: string;
  versionId?: string | undefined;
  /** When the write was debounced: the stored value, which stays the source of truth. */
  storedValue?: Record<string, unknown>;
  /** The secret as DescribeSecret showed it before the write (absent when it did not exist). */
  description?: SecretDescription;
  /** The secret's ARN (from DescribeSecret or CreateSecret). */
  arn?: string | undefined;
}

export { SecretRefusedError };

/** Content-derived idempotency token (64 hex characters; Secrets Manager accepts 32–64). */
export function clientRequestToken(name: string, secretString: string): string {
  return createHash("sha256").update(name).update("\n").update(secretString).digest("hex");
}

function isResourceExists(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "ResourceExistsException";
}

/** The product owns a secret that carries its ownership tag (set when it created or adopted it). */
export function isOwnedSecret(description: Pick<SecretDescription, "tags">): boolean {
  return description.tags[OWNERSHIP_TAG_KEY] === OWNERSHIP_TAG_VALUE;
}

export async function writeOwnedSecret(api: SecretsApi, request: SecretWriteRequest): Promise<SecretWriteResult> {
  const { name } = request;
  const secretString = JSON.stringify(request.value);
  const token = clientRequestToken(name, secretString);
  let description = await api.describe(name);

  if (description === undefined) {
    if (request.dryRun) return { secretName: name, outcome: "would-create", reason: "secret does not exist yet" };
    if (request.refuseCreate !== undefined) throw new SecretRefusedError(name, request.refuseCreate);
    try {
      const created = await api.create({
        name,
        secretString,
        kmsKeyId: request.kmsKeyId,
        tags: { ...request.tags, [OWNERSHIP_TAG_KEY]: OWNERSHIP_TAG_VALUE },
        clientRequestToken: token,
        ...(request.replicaRegions && request.replicaRegions.length > 0 ? { replicaRegions: request.replicaRegions } : {}),
      });
      return { secretName: name, outcome: "created", reason: "secret did not exist", versionId: created.versionId, arn: created.arn };
    } catch (error) {
      // Another run (the CLI during an incident, the schedule) created it since we looked:
      // re-read it and decide again from what is there.
      if (!isResourceExists(error)) throw error;
      description = await api.describe(name);
      if (description === undefined) throw new SecretRefusedError(name, "CreateSecret said it exists, but it cannot be read back");
    }
  }

  if (description.deletedDate !== undefined) {
    throw new SecretRefusedError(name, `it is scheduled for deletion (since ${description.deletedDate.toISOString()}); restore it first`);
  }
  const owned = isOwnedSecret(description);
  if (!owned && !request.adopt) {
    throw new SecretRefusedError(
      name,
      `it lacks the tag ${OWNERSHIP_TAG_KEY}=${OWNERSHIP_TAG_VALUE}, so another owner may depend on it; set ADOPT_EXISTING_SECRET=true to take it over`,
    );
  }

  const current = description.hasCurrentVersion ? await api.getCurrent(name) : undefined;
  let replacing: string | undefined;
  if (current?.secretString !== undefined) {
    const check = checkStoredValue(current.secretString, request.kind, request.kind === "registry" ? request.registryHost : undefined);
    if (!check.ok) throw new SecretRefusedError(name, `${check.reason}, so it is not the product's format`);
    if (current.secretString === secretString) {
      return { secretName: name, outcome: "unchanged", reason: "stored value is identical", versionId: current.versionId, description, arn: description.arn };
    }
    const expiresAt = storedExpiry(check.value);
    const validFor = expiresAt === undefined ? undefined : secondsUntil(expiresAt, request.tokenNow ?? request.now);
    const validEnough = validFor !== undefined && validFor > 0 && validFor >= request.minValiditySeconds;
    // A withdrawn entry (ECR Public whose refresh failed) holds no credential: never keep it.
    const holdsCredential = request.kind !== "registry" || check.value.auth_token !== "";
    if (!request.force && holdsCredential && current.createdDate !== undefined) {
      const ageSeconds = Math.floor((request.now.getTime() - current.createdDate.getTime()) / 1000);
      if (ageSeconds >= 0 && ageSeconds < request.debounceSeconds) {
        if (validEnough) {
          return {
            secretName: name,
            outcome: "debounced",
            reason: `current version is ${ageSeconds} s old (< ${request.debounceSeconds} s) and valid for ${validFor} s; kept it (use force to override)`,
            versionId: current.versionId,
            storedValue: check.value,
            description,
            arn: description.arn,
          };
        }
        // The debounce never keeps a token that is expired or too close to expiry.
        const state =
          validFor === undefined
            ? "the stored value has no valid expires_at"
            : validFor <= 0
              ? `the stored token expired at ${expiresAt!.toISOString()}`
              : `the stored token expires at ${expiresAt!.toISOString()}, in ${validFor} s (< ${request.minValiditySeconds} s minimum validity)`;
        replacing = `${state}: replaced although the version is only ${ageSeconds} s old`;
      }
    }
  } else if (current !== undefined && current.hasBinary) {
    throw new SecretRefusedError(name, "its current version holds SecretBinary, not a JSON SecretString, so it is not the product's format");
  } else if (current === undefined && description.hasCurrentVersion) {
    throw new SecretRefusedError(name, "its current version could not be read");
  }

  const why = replacing === undefined ? "new token" : `new token: ${replacing}`;
  if (request.dryRun)
    return { secretName: name, outcome: "would-update", reason: owned ? why : `${why}; would adopt the secret`, description, arn: description.arn };
  const put = await api.put({ name, secretString, clientRequestToken: token });
  if (!owned) await api.tag(name, { [OWNERSHIP_TAG_KEY]: OWNERSHIP_TAG_VALUE });
  return { secretName: name, outcome: "updated", reason: owned ? why : `${why}; secret adopted`, versionId: put.versionId, description, arn: description.arn };
}
