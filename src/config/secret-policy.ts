/**
 * How the product's secrets are kept: the KMS key (KMS_KEY_ID), their tags (SECRET_TAGS), who in
 * other accounts may read them (SECRET_READERS) and where they are replicated
 * (SECRET_REPLICA_REGIONS).
 */
import { checkRegion } from "../formats/region";
import { OWNERSHIP_TAG_KEY, type ReplicaRegion } from "./types";
import type { EnvReader } from "./env-reader";

const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const ACCOUNT_ID = /^\d{12}$/;
/** IAM principals a resource policy can name: an account root, a role or a user (with path). */
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)\/([\x21-\x7e]+\/)?[\w+=,.@-]{1,128})$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key\/[A-Za-z0-9-]+$/;
const KMS_KEY_ID = /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+|alias\/.+|[0-9a-f-]{36}|mrk-[0-9a-f]{32})$/;

/** KMS_KEY_ID: a key ARN, key id, alias/NAME or alias ARN. */
export function readKmsKeyId(reader: EnvReader): string | undefined {
  const kmsKeyId = reader.string("KMS_KEY_ID");
  if (kmsKeyId !== undefined && !KMS_KEY_ID.test(kmsKeyId)) {
    reader.problem(`KMS_KEY_ID=${JSON.stringify(kmsKeyId)}: expected a key ARN, key id, alias/NAME or alias ARN`);
  }
  return kmsKeyId;
}

/** SECRET_TAGS: `key=value` items; not the aws: prefix, not the product's own ownership tag. */
export function readSecretTags(reader: EnvReader): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of reader.list("SECRET_TAGS")) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq).trim();
    const value = eq < 0 ? "" : item.slice(eq + 1).trim();
    if (eq < 0 || !TAG_KEY.test(key) || !TAG_VALUE.test(value)) {
      reader.problem(`SECRET_TAGS: ${JSON.stringify(item)} is not a valid key=value tag`);
      continue;
    }
    if (key.toLowerCase().startsWith("aws:")) {
      reader.problem(`SECRET_TAGS: tag key ${JSON.stringify(key)} uses the reserved aws: prefix`);
      continue;
    }
    if (key === OWNERSHIP_TAG_KEY) {
      reader.problem(`SECRET_TAGS: ${OWNERSHIP_TAG_KEY} is set by the product itself`);
      continue;
    }
    tags[key] = value;
  }
  return tags;
}

/** SECRET_READERS: principal ARNs or account IDs; they need a customer-managed key (KMS_KEY_ID). */
export function readSecretReaders(reader: EnvReader, kmsKeyId: string | undefined): string[] {
  const readers: string[] = [];
  for (const item of reader.list("SECRET_READERS")) {
    if (ACCOUNT_ID.test(item) || PRINCIPAL_ARN.test(item)) {
      if (!readers.includes(item)) readers.push(item);
    } else if (/^arn:aws[a-z-]*:sts::/.test(item)) {
      reader.problem(`SECRET_READERS: ${JSON.stringify(item)} is an STS session ARN; name the IAM role (arn:aws:iam::<account>:role/<name>)`);
    } else {
      reader.problem(
        `SECRET_READERS: ${JSON.stringify(item)} is neither a 12-digit account ID nor an IAM principal ARN (arn:aws:iam::<account>:root, :role/<name> or :user/<name>)`,
      );
    }
  }
  if (readers.length > 0 && (kmsKeyId === undefined || /(^|:)alias\/aws\/secretsmanager$/.test(kmsKeyId))) {
    reader.problem(
      "SECRET_READERS is set but KMS_KEY_ID " +
        (kmsKeyId === undefined ? "is not" : "names the AWS managed key") +
        ": secrets encrypted with the AWS managed key aws/secretsmanager cannot be read from other accounts; " +
        "set KMS_KEY_ID to a customer-managed KMS key (its full key ARN) whose key policy lets the readers call kms:Decrypt",
    );
  }
  return readers;
}

/** One `region[:kmsKeyArn]` item, or undefined (problem recorded) when it is not one. */
function replicaRegion(reader: EnvReader, item: string): ReplicaRegion | undefined {
  const colon = item.indexOf(":");
  const region = colon < 0 ? item : item.slice(0, colon);
  const kmsKeyId = colon < 0 ? undefined : item.slice(colon + 1);
  const check = checkRegion(region);
  if (!check.ok) {
    reader.problem(`SECRET_REPLICA_REGIONS: ${JSON.stringify(item)}: ${check.problem} (write region or region:kmsKeyArn)`);
    return undefined;
  }
  if (kmsKeyId === undefined) return { region };
  const match = KMS_KEY_ARN.exec(kmsKeyId);
  if (match === null) {
    reader.problem(`SECRET_REPLICA_REGIONS: ${JSON.stringify(item)}: the replica's key must be a KMS key ARN (arn:aws:kms:${region}:<account>:key/<id>)`);
    return undefined;
  }
  if (match[1] !== region) {
    reader.problem(
      `SECRET_REPLICA_REGIONS: ${JSON.stringify(item)}: the key is in ${match[1]}, the replica in ${region}; a replica is encrypted with a key of its own region`,
    );
    return undefined;
  }
  return { region, kmsKeyId };
}

/** SECRET_REPLICA_REGIONS: `region[:kmsKeyArn]`, comma-separated; not the primary region, none twice. */
export function readReplicaRegions(reader: EnvReader, primaryRegion: string | undefined): ReplicaRegion[] {
  const replicas: ReplicaRegion[] = [];
  for (const item of reader.list("SECRET_REPLICA_REGIONS")) {
    const replica = replicaRegion(reader, item);
    if (replica === undefined) continue;
    if (replica.region === primaryRegion) {
      reader.problem(`SECRET_REPLICA_REGIONS: ${replica.region} is the secrets' own region (AWS_REGION), not a replica region`);
      continue;
    }
    if (replicas.some((r) => r.region === replica.region)) {
      reader.problem(`SECRET_REPLICA_REGIONS: ${replica.region} is listed twice`);
      continue;
    }
    replicas.push(replica);
  }
  return replicas;
}
