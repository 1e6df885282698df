/**
 * The Secrets Manager calls the product makes, behind a narrow interface (SecretsApi), and the
 * SDK-backed implementation. Created in one place (src/rotation/aws.ts).
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  ReplicateSecretToRegionsCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  type ReplicationStatusType,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { ReplicaRegion } from "../config/config";
import type { Deadline } from "../shared/deadline";
import { sdkSend, type SdkCallOptions } from "../shared/sdk-call";

/** One replica of a secret as DescribeSecret reports it (`InSync`, `InProgress` or `Failed`). */
export interface ReplicaStatus {
  region: string;
  status: string;
  message?: string;
}

export interface SecretDescription {
  arn: string | undefined;
  tags: Record<string, string>;
  hasCurrentVersion: boolean;
  deletedDate: Date | undefined;
  /** `ReplicationStatus` (empty when the secret has no replicas). */
  replication: ReplicaStatus[];
  /** `KmsKeyId` as Secrets Manager reports it; undefined: the AWS managed key aws/secretsmanager. */
  kmsKeyId?: string | undefined;
}

export interface CurrentSecretValue {
  secretString: string | undefined;
  /** The current version holds SecretBinary (never the product's format). */
  hasBinary: boolean;
  versionId: string | undefined;
  createdDate: Date | undefined;
}

export interface SecretsApi {
  describe(name: string): Promise<SecretDescription | undefined>;
  getCurrent(name: string): Promise<CurrentSecretValue | undefined>;
  create(input: {
    name: string;
    secretString: string;
    kmsKeyId: string | undefined;
    tags: Record<string, string>;
    clientRequestToken: string;
    /** SECRET_REPLICA_REGIONS: the secret is created with these replicas. */
    replicaRegions?: readonly ReplicaRegion[];
  }): Promise<{ versionId: string | undefined; arn?: string | undefined }>;
  put(input: { name: string; secretString: string; clientRequestToken: string }): Promise<{ versionId: string | undefined }>;
  tag(name: string, tags: Record<string, string>): Promise<void>;
  /** The secret's resource policy (JSON text), or undefined when it has none. */
  getResourcePolicy(name: string): Promise<string | undefined>;
  /** PutResourcePolicy with BlockPublicPolicy: a policy granting public access is refused. */
  putResourcePolicy(name: string, policy: string): Promise<void>;
  /** ReplicateSecretToRegions; returns the ReplicationStatus it answers with. */
  replicate(name: string, regions: readonly ReplicaRegion[]): Promise<ReplicaStatus[]>;
}

function replicaStatuses(list: ReplicationStatusType[] | undefined): ReplicaStatus[] {
  return (list ?? [])
    .filter((r) => r.Region !== undefined)
    .map((r) => ({ region: r.Region!, status: r.Status ?? "unknown", ...(r.StatusMessage ? { message: r.StatusMessage } : {}) }));
}

function replicaInput(regions: readonly ReplicaRegion[]) {
  return regions.map((r) => ({ Region: r.region, ...(r.kmsKeyId ? { KmsKeyId: r.kmsKeyId } : {}) }));
}

/** The SDK-backed SecretsApi; every call ends by `deadline` (and has its own total timeout). */
export function sdkSecretsApi(client: SecretsManagerClient, deadline?: Deadline): SecretsApi {
  const send = <T>(what: string, call: (options: SdkCallOptions) => Promise<T>): Promise<T> => sdkSend(deadline, `Secrets Manager ${what}`, call);
  return {
    async describe(name) {
      try {
        const out = await send("DescribeSecret", (o) => client.send(new DescribeSecretCommand({ SecretId: name }), o));
        const tags: Record<string, string> = {};
        for (const tag of out.Tags ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? "";
        const hasCurrentVersion = Object.values(out.VersionIdsToStages ?? {}).some((stages) => stages.includes("AWSCURRENT"));
        return {
          arn: out.ARN,
          tags,
          hasCurrentVersion,
          deletedDate: out.DeletedDate,
          replication: replicaStatuses(out.ReplicationStatus),
          ...(out.KmsKeyId ? { kmsKeyId: out.KmsKeyId } : {}),
        };
      } catch (error) {
        if (error instanceof ResourceNotFoundException || (error as { name?: string }).name === "ResourceNotFoundException") return undefined;
        throw error;
      }
    },
    async getCurrent(name) {
      try {
        const out = await send("GetSecretValue", (o) => client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSCURRENT" }), o));
        return { secretString: out.SecretString, hasBinary: out.SecretBinary !== undefined, versionId: out.VersionId, createdDate: out.CreatedDate };
      } catch (error) {
        if (error instanceof ResourceNotFoundException || (error as { name?: string }).name === "ResourceNotFoundException") return undefined;
        throw error;
      }
    },
    async create({ name, secretString, kmsKeyId, tags, clientRequestToken, replicaRegions }) {
      const out = await send("CreateSecret", (o) =>
        client.send(
          new CreateSecretCommand({
            Name: name,
            SecretString: secretString,
            ClientRequestToken: clientRequestToken,
            Description: "Amazon ECR pull credentials, kept fresh by ecr-token-rotator",
            ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}),
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
            ...(replicaRegions && replicaRegions.length > 0 ? { AddReplicaRegions: replicaInput(replicaRegions) } : {}),
          }),
          o,
        ),
      );
      return { versionId: out.VersionId, arn: out.ARN };
    },
    async put({ name, secretString, clientRequestToken }) {
      const out = await send("PutSecretValue", (o) =>
        client.send(new PutSecretValueCommand({ SecretId: name, SecretString: secretString, ClientRequestToken: clientRequestToken }), o),
      );
      return { versionId: out.VersionId };
    },
    async tag(name, tags) {
      await send("TagResource", (o) =>
        client.send(new TagResourceCommand({ SecretId: name, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }), o),
      );
    },
    async getResourcePolicy(name) {
      const out = await send("GetResourcePolicy", (o) => client.send(new GetResourcePolicyCommand({ SecretId: name }), o));
      return out.ResourcePolicy ?? undefined;
    },
    async putResourcePolicy(name, policy) {
      await send("PutResourcePolicy", (o) => client.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: policy, BlockPublicPolicy: true }), o));
    },
    async replicate(name, regions) {
      const out = await send("ReplicateSecretToRegions", (o) =>
        client.send(new ReplicateSecretToRegionsCommand({ SecretId: name, AddReplicaRegions: replicaInput(regions) }), o),
      );
      return replicaStatuses(out.ReplicationStatus);
    },
  };
}
