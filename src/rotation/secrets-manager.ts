/**
 * The Secrets Manager calls the product makes, behind a narrow interface (SecretsApi), and the
 * SDK-backed implementation. Created in one place (src/rotation/aws.ts).
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { Deadline } from "../shared/deadline";
import { sdkSend, type SdkCallOptions } from "../shared/sdk-call";

export interface SecretDescription {
  arn: string | undefined;
  tags: Record<string, string>;
  hasCurrentVersion: boolean;
  deletedDate: Date | undefined;
}

export interface CurrentSecretValue {
  secretString: string | undefined;
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
  }): Promise<{ versionId: string | undefined }>;
  put(input: { name: string; secretString: string; clientRequestToken: string }): Promise<{ versionId: string | undefined }>;
  tag(name: string, tags: Record<string, string>): Promise<void>;
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
        return { arn: out.ARN, tags, hasCurrentVersion, deletedDate: out.DeletedDate };
      } catch (error) {
        if (error instanceof ResourceNotFoundException || (error as { name?: string }).name === "ResourceNotFoundException") return undefined;
        throw error;
      }
    },
    async getCurrent(name) {
      try {
        const out = await send("GetSecretValue", (o) => client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSCURRENT" }), o));
        return { secretString: out.SecretString, versionId: out.VersionId, createdDate: out.CreatedDate };
      } catch (error) {
        if (error instanceof ResourceNotFoundException || (error as { name?: string }).name === "ResourceNotFoundException") return undefined;
        throw error;
      }
    },
    async create({ name, secretString, kmsKeyId, tags, clientRequestToken }) {
      const out = await send("CreateSecret", (o) =>
        client.send(
          new CreateSecretCommand({
            Name: name,
            SecretString: secretString,
            ClientRequestToken: clientRequestToken,
            Description: "Amazon ECR pull credentials, kept fresh by ecr-token-rotator",
            ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}),
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          }),
          o,
        ),
      );
      return { versionId: out.VersionId };
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
  };
}
