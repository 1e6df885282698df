/**
 * Fleet configuration (issue 12 items 1-3): per-cluster roleArn/externalId/sessionName,
 * SECRET_READERS (with the customer-managed key it needs), SECRET_REPLICA_REGIONS, public.ecr.aws
 * in ECR_REGISTRIES. Bad values are reported in the one ConfigError, naming what is wrong.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SESSION_NAME, loadConfig, renderSecretName } from "../../src/config/config";
import { ConfigError } from "../../src/shared/errors";
import { ECR_PUBLIC_HOST, parseConfiguredRegistry, parseRegistryHost } from "../../src/formats/registry-host";

type Env = Record<string, string | undefined>;
const KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ROLE = "arn:aws:iam::222222222222:role/ecr-token-rotator-spoke";

function problems(env: Env): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("configuration accepted");
}

const clusters = (...entries: object[]) => JSON.stringify(entries);

describe("EKS_CLUSTERS: clusters in other accounts", () => {
  it("an entry with roleArn gets the default session name; externalId and sessionName are kept", () => {
    const config = loadConfig({
      AWS_REGION: "us-east-1",
      EKS_CLUSTERS: clusters(
        { name: "spoke", region: "eu-west-1", roleArn: ROLE },
        { name: "spoke2", region: "eu-west-1", roleArn: ROLE, externalId: "fleet-7f3a", sessionName: "hub-refresher" },
        { name: "local" },
      ),
    });
    const [a, b, c] = config.kubernetes.clusters;
    expect(a).toEqual({ name: "spoke", region: "eu-west-1", assumeRole: { roleArn: ROLE, sessionName: DEFAULT_SESSION_NAME } });
    expect(DEFAULT_SESSION_NAME).toBe("ecr-token-rotator");
    expect(b!.assumeRole).toEqual({ roleArn: ROLE, externalId: "fleet-7f3a", sessionName: "hub-refresher" });
    expect(c).toEqual({ name: "local", region: "us-east-1" });
  });

  it("rejects a malformed roleArn, externalId, sessionName, and those fields without a roleArn", () => {
    const p = problems({
      AWS_REGION: "us-east-1",
      EKS_CLUSTERS: clusters(
        { name: "a", roleArn: "arn:aws:sts::222222222222:assumed-role/x/y" },
        { name: "b", roleArn: ROLE, externalId: "x" },
        { name: "c", roleArn: ROLE, sessionName: "has space" },
        { name: "d", externalId: "fleet-7f3a" },
        { name: "e", roleArn: 42 },
      ),
    });
    expect(p).toEqual([
      "EKS_CLUSTERS: cluster a: roleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
      "EKS_CLUSTERS: cluster b: externalId must be 2-1224 of the characters A-Z a-z 0-9 + = , . @ : / - _",
      "EKS_CLUSTERS: cluster c: sessionName must be 2-64 of the characters A-Z a-z 0-9 + = , . @ - _",
      "EKS_CLUSTERS: cluster d: externalId and sessionName need a roleArn",
      "EKS_CLUSTERS: cluster e: roleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    ]);
  });

  it("still names unknown fields, listing the new ones as allowed", () => {
    expect(problems({ AWS_REGION: "us-east-1", EKS_CLUSTERS: clusters({ name: "a", role: ROLE }) })).toEqual([
      'EKS_CLUSTERS: unknown field "role" (allowed: name, region, endpoint, caData, roleArn, externalId, sessionName)',
    ]);
  });
});

describe("SECRET_READERS", () => {
  it("accepts account IDs and IAM principal ARNs (deduplicated) with a customer-managed key", () => {
    const config = loadConfig({
      AWS_REGION: "us-east-1",
      KMS_KEY_ID: KEY,
      SECRET_READERS:
        "333333333333, arn:aws:iam::444444444444:role/external-secrets,arn:aws:iam::555555555555:root,333333333333,arn:aws:iam::666666666666:role/path/to/eso",
    });
    expect(config.rotation.secretReaders).toEqual([
      "333333333333",
      "arn:aws:iam::444444444444:role/external-secrets",
      "arn:aws:iam::555555555555:root",
      "arn:aws:iam::666666666666:role/path/to/eso",
    ]);
  });

  it("without KMS_KEY_ID (or with aws/secretsmanager): a configuration error saying why", () => {
    const expected =
      "SECRET_READERS is set but KMS_KEY_ID is not: secrets encrypted with the AWS managed key aws/secretsmanager cannot be read from other accounts; " +
      "set KMS_KEY_ID to a customer-managed KMS key (its full key ARN) whose key policy lets the readers call kms:Decrypt";
    expect(problems({ AWS_REGION: "us-east-1", SECRET_READERS: "333333333333" })).toEqual([expected]);
    expect(problems({ AWS_REGION: "us-east-1", SECRET_READERS: "333333333333", KMS_KEY_ID: "alias/aws/secretsmanager" })).toEqual([
      expected.replace("KMS_KEY_ID is not", "KMS_KEY_ID names the AWS managed key"),
    ]);
    // no readers, no requirement
    expect(loadConfig({ AWS_REGION: "us-east-1" }).rotation.secretReaders).toEqual([]);
  });

  it("rejects what a resource policy cannot name", () => {
    expect(problems({ AWS_REGION: "us-east-1", KMS_KEY_ID: KEY, SECRET_READERS: "1234,arn:aws:sts::333333333333:assumed-role/eso/s1,*" })).toEqual([
      'SECRET_READERS: "1234" is neither a 12-digit account ID nor an IAM principal ARN (arn:aws:iam::<account>:root, :role/<name> or :user/<name>)',
      'SECRET_READERS: "arn:aws:sts::333333333333:assumed-role/eso/s1" is an STS session ARN; name the IAM role (arn:aws:iam::<account>:role/<name>)',
      'SECRET_READERS: "*" is neither a 12-digit account ID nor an IAM principal ARN (arn:aws:iam::<account>:root, :role/<name> or :user/<name>)',
    ]);
  });
});

describe("SECRET_REPLICA_REGIONS", () => {
  it("region[:kmsKeyArn], comma-separated", () => {
    const config = loadConfig({
      AWS_REGION: "us-east-1",
      SECRET_REPLICA_REGIONS: "eu-west-1, us-west-2:arn:aws:kms:us-west-2:123456789012:key/abcd-1234",
    });
    expect(config.rotation.replicaRegions).toEqual([
      { region: "eu-west-1" },
      { region: "us-west-2", kmsKeyId: "arn:aws:kms:us-west-2:123456789012:key/abcd-1234" },
    ]);
  });

  it("rejects bad regions, keys of another region, the primary region and duplicates", () => {
    expect(
      problems({
        AWS_REGION: "us-east-1",
        SECRET_REPLICA_REGIONS: "europe,eu-west-1:alias/foo,eu-west-1:arn:aws:kms:eu-central-1:123456789012:key/abcd,us-east-1,us-west-2,us-west-2",
      }),
    ).toEqual([
      'SECRET_REPLICA_REGIONS: "europe": "europe" is not an AWS region (write region or region:kmsKeyArn)',
      'SECRET_REPLICA_REGIONS: "eu-west-1:alias/foo": the replica\'s key must be a KMS key ARN (arn:aws:kms:eu-west-1:<account>:key/<id>)',
      'SECRET_REPLICA_REGIONS: "eu-west-1:arn:aws:kms:eu-central-1:123456789012:key/abcd": the key is in eu-central-1, the replica in eu-west-1; a replica is encrypted with a key of its own region',
      "SECRET_REPLICA_REGIONS: us-east-1 is the secrets' own region (AWS_REGION), not a replica region",
      "SECRET_REPLICA_REGIONS: us-west-2 is listed twice",
    ]);
  });

  it("checks each region like AWS_REGION: a misspelt one is refused with the region meant, a new one of a known shape passes", () => {
    expect(problems({ AWS_REGION: "us-east-1", SECRET_REPLICA_REGIONS: "eu-wset-1,eu-west-1:arn:aws:kms:eu-west-1:123456789012:key/abcd" })).toEqual([
      'SECRET_REPLICA_REGIONS: "eu-wset-1": "eu-wset-1" is not a known AWS region (did you mean eu-west-1?) (write region or region:kmsKeyArn)',
    ]);
    expect(loadConfig({ AWS_REGION: "us-east-1", SECRET_REPLICA_REGIONS: "eu-west-9" }).rotation.replicaRegions).toEqual([{ region: "eu-west-9" }]);
  });
});

describe("ECR_REGISTRIES: public.ecr.aws", () => {
  it("is a registry of its own: us-east-1, {account} renders as 'public'", () => {
    const config = loadConfig({ AWS_REGION: "eu-west-1", ECR_REGISTRIES: "public.ecr.aws,123456789012.dkr.ecr.eu-west-1.amazonaws.com" });
    const [pub, priv] = config.rotation.registries;
    expect(pub).toMatchObject({ host: ECR_PUBLIC_HOST, region: "us-east-1", accountId: "public", public: true });
    expect(priv!.public).toBeUndefined();
    expect(renderSecretName(config.rotation.secretNameTemplate, pub!)).toBe("ecr/public/us-east-1/credentials");
    expect(parseConfiguredRegistry("https://public.ecr.aws/").host).toBe(ECR_PUBLIC_HOST);
  });

  it("an image path is not a registry; the private-host parser still refuses public.ecr.aws", () => {
    expect(problems({ AWS_REGION: "us-east-1", ECR_REGISTRIES: "public.ecr.aws/nginx/nginx" })).toEqual([
      'ECR_REGISTRIES: invalid ECR registry host "public.ecr.aws/nginx/nginx": ECR Public is the registry public.ecr.aws, without a path',
    ]);
    expect(problems({ AWS_REGION: "us-east-1", ECR_REGISTRIES: "public.ecr.aws,public.ecr.aws" })).toContain("ECR_REGISTRIES: public.ecr.aws is listed twice");
    expect(() => parseRegistryHost("public.ecr.aws")).toThrow(/expected <12-digit account>/);
  });
});
