/**
 * One registry's step of a rotation (rotate.ts runs it for each registry in turn): its fresh token
 * written to its secret, or, without a token, a row saying how long the stored one still serves
 * (ECR Public: its entry withdrawn instead); the deadline skips what it cuts.
 */
import { renderSecretName } from "../config/config";
import type { RegistryCredential } from "./ecr";
import { reportedSecondsLeft } from "../formats/ecr-token";
import { describeError } from "../shared/errors";
import { DEADLINE_REASON, isDeadlineExceeded } from "../shared/deadline";
import type { RegistryReport } from "../report/report";
import { ECR_PUBLIC_HOST, type RegistryHost } from "../formats/registry-host";
import { registrySecretValue, withdrawnPublicValue } from "./secret-payload";
import { parseSecretValue, storedExpiry, type StoredRegistryValue } from "../formats/secret-value";
import { rememberSecret } from "../shared/redact";
import type { SecretsApi } from "./secrets-manager";
import { addSharing, writeSecret, type Rotation } from "./rotation-context";

/** A registry's token from ECR, or why there is none (`cause`: the error itself). */
export type FetchedToken =
  { registry: RegistryHost; credential: RegistryCredential } | { registry: RegistryHost; credential?: undefined; error: string; cause: unknown };

/** What one registry adds to the outcome. */
export interface RegistryStep {
  row: RegistryReport;
  /** The fresh token, written or not (the combined secret's input). */
  fresh?: RegistryCredential;
  /** The token now in Secrets Manager (what the Kubernetes step pushes). */
  stored?: RegistryCredential;
  /** ECR Public whose entry was withdrawn instead of refreshed. */
  withdrawn?: boolean;
}

type RowBase = Omit<RegistryReport, "outcome" | "reason">;

function credentialFromStored(registry: RegistryHost, stored: StoredRegistryValue, tokenNow: Date): RegistryCredential | undefined {
  const expires = storedExpiry(stored, tokenNow);
  if (expires === undefined) return undefined;
  // The stored password is pushed to clusters like a fresh one: it must be scrubbed like one.
  rememberSecret(stored.auth_token);
  return {
    registry,
    username: stored.username ?? "AWS",
    password: stored.auth_token,
    expiresAt: expires,
    proxyEndpoint: `https://${registry.host}`,
  };
}

/**
 * After a failed fetch or write: the expiry of the token the secret still holds, when it can be
 * read, is the product's value for this registry and is one an ECR token can have (best effort:
 * never throws).
 */
async function storedTokenExpiry(secrets: SecretsApi, secretName: string, registry: RegistryHost, tokenNow: Date): Promise<Date | undefined> {
  try {
    const current = await secrets.getCurrent(secretName);
    if (current?.secretString === undefined) return undefined;
    const check = parseSecretValue(current.secretString, "registry", registry.host);
    return check.ok ? storedExpiry(check.stored.value, tokenNow) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A registry whose token could not be replaced: the row says how long the stored token still
 * serves, and a stored token below the minimum validity is its own loud error (pulls fail soon).
 */
async function failedRegistry(run: Rotation, base: RowBase, registry: RegistryHost, reason: string, error: string): Promise<RegistryReport> {
  const { config, deps, errors } = run;
  const row: RegistryReport = { ...base, outcome: "failed", reason };
  errors.push(error);
  const expiresAt = await storedTokenExpiry(deps.secrets, base.secretName, registry, run.tokenNow());
  if (expiresAt === undefined) return row;
  const left = reportedSecondsLeft(expiresAt, run.tokenNow());
  row.expiresAt = expiresAt.toISOString();
  row.secondsRemaining = left;
  if (left < config.minTokenValiditySeconds) {
    const state =
      left <= 0
        ? `expired at ${row.expiresAt}`
        : `expires at ${row.expiresAt}, in ${left} s (less than TOKEN_MIN_VALIDITY_MINUTES=${config.minTokenValiditySeconds / 60})`;
    const loud = `${registry.host}: the token stored in ${base.secretName} ${state} and could not be replaced: pulls with it fail${left <= 0 ? "" : " soon"}`;
    row.reason = `${reason}; ${loud}`;
    errors.push(loud);
  }
  return row;
}

/**
 * ECR Public whose refresh failed: an expired public.ecr.aws entry makes pulls fail that would
 * succeed anonymously, so the entry is removed from the secret instead of left to expire.
 */
async function withdrawPublic(run: Rotation, secretName: string, why: string): Promise<string> {
  const lead = `no ${ECR_PUBLIC_HOST} token: ${why}`;
  try {
    if ((await run.deps.secrets.describe(secretName)) === undefined) return `${lead}; no secret to withdraw it from`;
    const result = await writeSecret(run, secretName, withdrawnPublicValue(why), { force: true });
    if (result.outcome === "would-update")
      return `${lead}; would remove the ${ECR_PUBLIC_HOST} entry from the secret (pulls from it would go anonymous rather than fail on an expired token)`;
    return `${lead}; the ${ECR_PUBLIC_HOST} entry was removed from the secret (pulls from it go anonymous rather than fail on an expired token)`;
  } catch (error) {
    run.errors.push(`${secretName}: ${describeError(error)}`);
    return `${lead}; removing its entry from the secret failed: ${describeError(error)}`;
  }
}

/** No token for the registry: the deadline, a withdrawn ECR Public entry, or a failed row. */
async function withoutToken(run: Rotation, base: RowBase, item: Extract<FetchedToken, { error: string }>): Promise<RegistryStep> {
  const { registry } = item;
  if (isDeadlineExceeded(item.cause)) {
    run.errors.push(`${registry.host}: skipped: ${DEADLINE_REASON}`);
    return {
      row: { ...base, outcome: "skipped", reason: `${DEADLINE_REASON}: no token before the invocation's deadline; nothing written, the stored value stays` },
    };
  }
  if (registry.public) {
    const row: RegistryReport = { ...base, outcome: "failed", reason: await withdrawPublic(run, base.secretName, item.error) };
    run.errors.push(`${registry.host}: ${item.error}`);
    return { row, withdrawn: true };
  }
  const reason = `no token: ${item.error}; nothing written, the stored value stays`;
  return { row: await failedRegistry(run, base, registry, reason, `${registry.host}: ${item.error}`) };
}

/** A fresh token: written to the registry's secret (unless the deadline has passed). */
async function withToken(run: Rotation, base: RowBase, registry: RegistryHost, credential: RegistryCredential): Promise<RegistryStep> {
  const { secretName } = base;
  if (run.deps.deadline?.expired()) {
    run.errors.push(`${secretName}: skipped: ${DEADLINE_REASON}`);
    return {
      row: { ...base, outcome: "skipped", reason: `${DEADLINE_REASON}: not written before the invocation's deadline; the stored value stays` },
      fresh: credential,
    };
  }
  try {
    const result = await writeSecret(run, secretName, registrySecretValue(credential), { registryHost: registry.host });
    const kept = result.stored?.kind === "registry" ? credentialFromStored(registry, result.stored.value, run.tokenNow()) : undefined;
    const inStore = kept ?? credential;
    const row: RegistryReport = {
      ...base,
      outcome: result.outcome,
      reason: result.reason,
      expiresAt: inStore.expiresAt.toISOString(),
      secondsRemaining: reportedSecondsLeft(inStore.expiresAt, run.tokenNow()),
    };
    if (result.versionId !== undefined) row.versionId = result.versionId;
    addSharing(row, result.shared);
    return { row, fresh: credential, stored: inStore };
  } catch (error) {
    if (!isDeadlineExceeded(error)) {
      return { row: await failedRegistry(run, base, registry, describeError(error), `${secretName}: ${describeError(error)}`), fresh: credential };
    }
    // A write the deadline cut may or may not have been applied: its idempotency token makes
    // the next run's write of the same value a no-op either way.
    run.errors.push(`${secretName}: skipped: ${DEADLINE_REASON}`);
    return {
      row: { ...base, outcome: "skipped", reason: `${DEADLINE_REASON}: cut before Secrets Manager answered; the next run repeats it` },
      fresh: credential,
    };
  }
}

/** One registry's row, and the tokens it adds to the outcome. */
export async function rotateRegistry(run: Rotation, item: FetchedToken): Promise<RegistryStep> {
  const { registry } = item;
  const secretName = renderSecretName(run.config.secretNameTemplate, registry);
  const base: RowBase = { registry: registry.host, accountId: registry.accountId, region: registry.region, secretName };
  return item.credential === undefined ? withoutToken(run, base, item) : withToken(run, base, registry, item.credential);
}
