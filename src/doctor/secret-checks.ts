/**
 * Each secret the product writes, as it stands: `secret exists`, `owned` (the rotation's own
 * ownership rule), `validity` (the expiry in the stored value against the token clock),
 * `policy` (SECRET_READERS), `kms` (KMS_KEY_ID), `replicas` (SECRET_REPLICA_REGIONS). Reads
 * only: one DescribeSecret, one GetSecretValue, and GetResourcePolicy when SECRET_READERS is set.
 */
import { OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE, renderSecretName, type RotationConfig } from "../config/config";
import { secondsUntil } from "../formats/ecr-token";
import { describeSecretValueProblem, parseSecretValue, storedExpiry, type SecretKind } from "../formats/secret-value";
import { partitionOf, readerPolicy, readerPrincipals, samePolicy } from "../rotation/secret-sharing";
import { isOwnedSecret } from "../rotation/secret-writer";
import type { SecretDescription, SecretsApi } from "../rotation/secrets-manager";
import type { Deadline } from "../shared/deadline";
import { rememberSecret } from "../shared/redact";
import { duration, fail, guarded, pass, skip } from "./check";
import type { AwsCheck, AwsRun } from "./aws-context";
import type { DoctorCheck } from "./types";

/** A secret the product writes: one per registry, and the combined one. */
export interface SecretTarget {
  name: string;
  kind: SecretKind;
  /** For a registry secret: the host its `registry_url` must name. */
  registryHost?: string;
}

export interface SecretCheckInput {
  target: SecretTarget;
  secrets: SecretsApi;
  config: RotationConfig;
  tokenNow: () => Date;
  deadline?: Deadline | undefined;
}

const AREAS = ["owned", "validity", "policy", "kms", "replicas"] as const;

const rotateNow =
  "run ecr-token-rotator rotate (a stored token below the minimum is replaced whatever its age), then find why the schedule did not (the function's RotationFailed metric and log)";

/** `key:<id>` or `alias:<name>` of a KMS key reference (id, key ARN, alias/NAME, alias ARN). */
function kmsKeyOf(reference: string): string {
  const alias = /(?:^|:)(alias\/.+)$/.exec(reference);
  if (alias) return `alias:${alias[1]}`;
  const key = /(?:^|:key\/)((?:mrk-)?[0-9a-f-]+)$/.exec(reference);
  return key ? `key:${key[1]}` : `other:${reference}`;
}

function kmsCheck(name: string, target: string, configured: string | undefined, actual: string | undefined): DoctorCheck {
  if (configured === undefined) return skip(name, "KMS_KEY_ID is not set: the secrets use the AWS managed key aws/secretsmanager");
  const fix = `aws secretsmanager update-secret --secret-id ${target} --kms-key-id ${configured} (the product sets the key only when it creates a secret); readers in other accounts need kms:Decrypt on it`;
  const wanted = kmsKeyOf(configured);
  if (actual === undefined) {
    if (wanted === "alias:alias/aws/secretsmanager") return pass(name, "encrypted with aws/secretsmanager, as KMS_KEY_ID says");
    return fail(name, `encrypted with the AWS managed key aws/secretsmanager, not KMS_KEY_ID=${configured}`, fix);
  }
  const found = kmsKeyOf(actual);
  if (found === wanted) return pass(name, `encrypted with ${actual} (KMS_KEY_ID)`);
  if (found.split(":")[0] !== wanted.split(":")[0]) {
    return skip(
      name,
      `encrypted with ${actual}; KMS_KEY_ID=${configured} names the key another way (alias vs key id), which only kms:DescribeKey could compare`,
    );
  }
  return fail(name, `encrypted with ${actual}, not KMS_KEY_ID=${configured}`, fix);
}

async function policyCheck(name: string, input: SecretCheckInput, arn: string | undefined): Promise<DoctorCheck> {
  const { target, config } = input;
  if (config.secretReaders.length === 0) return skip(name, "SECRET_READERS is not set: no resource policy is managed");
  const readers = readerPrincipals(config.secretReaders, partitionOf(arn));
  const desired = readerPolicy(config.secretReaders, partitionOf(arn));
  return guarded(
    name,
    input.deadline,
    async () => {
      const current = await input.secrets.getResourcePolicy(target.name);
      if (samePolicy(current, desired)) return pass(name, `lets ${readers.join(", ")} read it (SECRET_READERS)`);
      return fail(
        name,
        current === undefined
          ? `no resource policy: SECRET_READERS (${readers.join(", ")}) cannot read it from their accounts`
          : "its resource policy is not the one SECRET_READERS asks for",
        `ecr-token-rotator rotate puts it (it keeps the policy of every secret it owns), or: aws secretsmanager put-resource-policy --secret-id ${target.name} --block-public-policy --resource-policy '${desired}'`,
      );
    },
    (message) => fail(name, message, "the role needs secretsmanager:GetResourcePolicy on the secret (granted with SECRET_READERS by the deploy)"),
  );
}

function replicasCheck(name: string, config: RotationConfig, description: SecretDescription): DoctorCheck {
  if (config.replicaRegions.length === 0) return skip(name, "SECRET_REPLICA_REGIONS is not set");
  const problems: string[] = [];
  const fixes = new Set<string>();
  for (const { region } of config.replicaRegions) {
    const replica = description.replication.find((r) => r.region === region);
    if (replica === undefined) {
      problems.push(`no replica in ${region}`);
      fixes.add("ecr-token-rotator rotate adds the missing replicas (ReplicateSecretToRegions)");
    } else if (replica.status !== "InSync") {
      problems.push(`${region} ${replica.status}${replica.message ? `: ${replica.message}` : ""}`);
      fixes.add(
        replica.status === "Failed"
          ? "a Failed replica is usually its region's KMS key (SECRET_REPLICA_REGIONS region:kmsKeyArn, kms:Encrypt for the role) or a secret of that name already in the region: fix that, remove the region (aws secretsmanager remove-regions-from-replication) and let the next rotation add it again"
          : "replication is still running: run the doctor again in a minute",
      );
    }
  }
  if (problems.length === 0) return pass(name, `in sync in ${config.replicaRegions.map((r) => r.region).join(", ")}`);
  return fail(name, problems.join("; "), [...fixes].join("; "));
}

async function validityCheck(name: string, input: SecretCheckInput, description: SecretDescription): Promise<DoctorCheck> {
  const { target, config } = input;
  const notFormat = `rotations refuse to overwrite it: restore the product's JSON value (README, "The Secrets Manager format") or delete the secret so the next rotation creates it`;
  if (!description.hasCurrentVersion) return fail(name, "it has no current version (AWSCURRENT)", rotateNow);
  return guarded(
    name,
    input.deadline,
    async () => {
      const current = await input.secrets.getCurrent(target.name);
      if (current?.secretString === undefined) {
        return fail(
          name,
          current?.hasBinary ? "its current version holds SecretBinary, not the product's JSON" : "its current value could not be read",
          notFormat,
        );
      }
      const check = parseSecretValue(current.secretString, target.kind, target.registryHost);
      if (!check.ok) return fail(name, describeSecretValueProblem(check.problem), notFormat);
      const { stored } = check;
      if (stored.kind === "registry") {
        // Read, never shown: still scrubbed like every credential the process holds.
        rememberSecret(stored.value.auth_token);
        if (stored.value.withdrawn !== undefined) return fail(name, `it holds no credential: the entry was withdrawn (${stored.value.withdrawn})`, rotateNow);
      }
      const expiresAt = storedExpiry(stored.value);
      if (expiresAt === undefined) return fail(name, "its value has no valid expires_at", rotateNow);
      const left = secondsUntil(expiresAt, input.tokenNow());
      const minimum = `TOKEN_MIN_VALIDITY_MINUTES=${config.minTokenValiditySeconds / 60}`;
      if (left <= 0) return fail(name, `the stored token expired at ${expiresAt.toISOString()} (${duration(-left)} ago): pulls with it fail`, rotateNow);
      if (left < config.minTokenValiditySeconds) {
        return fail(name, `the stored token expires at ${expiresAt.toISOString()}, in ${duration(left)}: less than ${minimum}`, rotateNow);
      }
      return pass(name, `the stored token is valid until ${expiresAt.toISOString()} (${duration(left)} left; minimum ${minimum})`);
    },
    (message) => fail(name, message, "the role needs secretsmanager:GetSecretValue on the secret and kms:Decrypt on its key (through Secrets Manager)"),
  );
}

/** The names of one secret's six lines, in order. */
export function secretLineNames(name: string): string[] {
  return ["exists", ...AREAS].map((area) => `secret ${area} ${name}`);
}

/** The six lines of one secret, in order; when it cannot be found, the other five say why they were skipped. */
export async function secretChecks(input: SecretCheckInput): Promise<DoctorCheck[]> {
  const { target, config } = input;
  const line = (area: string) => `secret ${area} ${target.name}`;
  const existsName = line("exists");
  let description: SecretDescription | undefined;
  const exists = await guarded(
    existsName,
    input.deadline,
    async () => {
      description = await input.secrets.describe(target.name);
      if (description === undefined) {
        return fail(
          existsName,
          `no secret ${target.name} in ${config.defaultRegion ?? "the SDK's region"}`,
          "ecr-token-rotator rotate creates it; if it lives elsewhere, correct SECRET_NAME / COMBINED_SECRET_NAME / AWS_REGION",
        );
      }
      if (description.deletedDate !== undefined) {
        return fail(
          existsName,
          `it is scheduled for deletion (since ${description.deletedDate.toISOString()})`,
          `aws secretsmanager restore-secret --secret-id ${target.name}`,
        );
      }
      return pass(existsName, description.arn ?? target.name);
    },
    (message) => fail(existsName, message, "the role needs secretsmanager:DescribeSecret on the secret (the deploy grants it on the configured name prefix)"),
  );
  if (exists.status !== "pass" || description === undefined) {
    return [exists, ...AREAS.map((area) => skip(line(area), `"${existsName}" did not pass`))];
  }
  const found = description;
  const ownedName = line("owned");
  const owned = isOwnedSecret(found)
    ? pass(ownedName, `tagged ${OWNERSHIP_TAG_KEY}=${OWNERSHIP_TAG_VALUE}`)
    : config.adoptExistingSecret
      ? pass(ownedName, `not tagged ${OWNERSHIP_TAG_KEY}=${OWNERSHIP_TAG_VALUE} yet; ADOPT_EXISTING_SECRET=true: the next rotation adopts it`)
      : fail(
          ownedName,
          `it lacks the tag ${OWNERSHIP_TAG_KEY}=${OWNERSHIP_TAG_VALUE}: rotations refuse to overwrite it (another owner may depend on it)`,
          `if the product should own it: aws secretsmanager tag-resource --secret-id ${target.name} --tags Key=${OWNERSHIP_TAG_KEY},Value=${OWNERSHIP_TAG_VALUE} (or set ADOPT_EXISTING_SECRET=true); if not, point SECRET_NAME at a secret of its own`,
        );
  const [validity, policy] = await Promise.all([validityCheck(line("validity"), input, found), policyCheck(line("policy"), input, found.arn)]);
  return [exists, owned, validity, policy, kmsCheck(line("kms"), target.name, config.kmsKeyId, found.kmsKeyId), replicasCheck(line("replicas"), config, found)];
}

/** The secrets the product writes: one per registry known so far (configured, or learnt), and the combined one. */
function secretTargets(run: AwsRun): SecretTarget[] {
  const rotation = run.config.rotation;
  const targets: SecretTarget[] = (run.registries ?? rotation.registries).map((registry) => ({
    name: renderSecretName(rotation.secretNameTemplate, registry),
    kind: "registry",
    registryHost: registry.host,
  }));
  if (rotation.combinedSecretName !== undefined) targets.push({ name: rotation.combinedSecretName, kind: "combined" });
  return targets;
}

/** The six `secret … <name>` lines of each secret the product writes. */
export const secretsCheck: AwsCheck = {
  names: (run) => secretTargets(run).flatMap((target) => secretLineNames(target.name)),
  needs: ["identity", "registries"],
  run: async (run) => {
    const lines = await Promise.all(
      secretTargets(run).map((target) =>
        secretChecks({ target, secrets: run.secrets, config: run.config.rotation, tokenNow: run.tokenNow, deadline: run.deadline }),
      ),
    );
    return lines.flat();
  },
};
