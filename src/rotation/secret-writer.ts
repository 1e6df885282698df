/**
 * Writes one product-owned secret: create when missing, refuse foreign or malformed secrets,
 * debounce, skip identical content, idempotent ClientRequestToken. Nothing is written on any
 * refusal; a dry run reads but never writes.
 */
import { createHash } from "node:crypto";
import { SecretRefusedError } from "../shared/errors";
import { OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE } from "../config/config";
import { checkStoredValue } from "./secret-payload";
import type { SecretsApi } from "./secrets-manager";

export type WriteOutcome = "created" | "updated" | "unchanged" | "debounced" | "would-create" | "would-update";

export interface SecretWriteRequest {
  name: string;
  kind: "registry" | "combined";
  value: object;
  now: Date;
  force: boolean;
  dryRun: boolean;
  adopt: boolean;
  debounceSeconds: number;
  kmsKeyId: string | undefined;
  tags: Record<string, string>;
}

export interface SecretWriteResult {
  secretName: string;
  outcome: WriteOutcome;
  reason: string;
  versionId?: string | undefined;
  /** When the write was debounced: the stored value, which stays the source of truth. */
  storedValue?: Record<string, unknown>;
}

export { SecretRefusedError };

/** Content-derived idempotency token (64 hex characters; Secrets Manager accepts 32–64). */
export function clientRequestToken(name: string, secretString: string): string {
  return createHash("sha256").update(name).update("\n").update(secretString).digest("hex");
}

export async function writeOwnedSecret(api: SecretsApi, request: SecretWriteRequest): Promise<SecretWriteResult> {
  const { name } = request;
  const secretString = JSON.stringify(request.value);
  const token = clientRequestToken(name, secretString);
  const description = await api.describe(name);

  if (description === undefined) {
    if (request.dryRun) return { secretName: name, outcome: "would-create", reason: "secret does not exist yet" };
    const created = await api.create({
      name,
      secretString,
      kmsKeyId: request.kmsKeyId,
      tags: { ...request.tags, [OWNERSHIP_TAG_KEY]: OWNERSHIP_TAG_VALUE },
      clientRequestToken: token,
    });
    return { secretName: name, outcome: "created", reason: "secret did not exist", versionId: created.versionId };
  }

  if (description.deletedDate !== undefined) {
    throw new SecretRefusedError(name, `it is scheduled for deletion (since ${description.deletedDate.toISOString()}); restore it first`);
  }
  const owned = description.tags[OWNERSHIP_TAG_KEY] === OWNERSHIP_TAG_VALUE;
  if (!owned && !request.adopt) {
    throw new SecretRefusedError(
      name,
      `it lacks the tag ${OWNERSHIP_TAG_KEY}=${OWNERSHIP_TAG_VALUE}, so another owner may depend on it; set ADOPT_EXISTING_SECRET=true to take it over`,
    );
  }

  const current = description.hasCurrentVersion ? await api.getCurrent(name) : undefined;
  if (current?.secretString !== undefined) {
    const check = checkStoredValue(current.secretString, request.kind);
    if (!check.ok) throw new SecretRefusedError(name, `${check.reason}, so it is not the product's format`);
    if (current.secretString === secretString) {
      return { secretName: name, outcome: "unchanged", reason: "stored value is identical", versionId: current.versionId };
    }
    if (!request.force && current.createdDate !== undefined) {
      const ageSeconds = Math.floor((request.now.getTime() - current.createdDate.getTime()) / 1000);
      if (ageSeconds >= 0 && ageSeconds < request.debounceSeconds) {
        return {
          secretName: name,
          outcome: "debounced",
          reason: `current version is ${ageSeconds} s old (< ${request.debounceSeconds} s); kept it (use force to override)`,
          versionId: current.versionId,
          storedValue: check.value,
        };
      }
    }
  } else if (current === undefined && description.hasCurrentVersion) {
    throw new SecretRefusedError(name, "its current version could not be read");
  }

  if (request.dryRun) return { secretName: name, outcome: "would-update", reason: owned ? "new token" : "new token; would adopt the secret" };
  const put = await api.put({ name, secretString, clientRequestToken: token });
  if (!owned) await api.tag(name, { [OWNERSHIP_TAG_KEY]: OWNERSHIP_TAG_VALUE });
  return { secretName: name, outcome: "updated", reason: owned ? "new token" : "new token; secret adopted", versionId: put.versionId };
}
