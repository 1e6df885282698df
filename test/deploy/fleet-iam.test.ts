/**
 * The fleet's IAM statements (issue 12 items 1-3), computed by infra/serverless/stack.cjs from
 * the stage parameters: each present only when its feature is configured, each scoped to what
 * the configuration names (the roles of eksClusters, the secret name patterns, the replica keys).
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const stack = createRequire(import.meta.url)("../../infra/serverless/stack.cjs");
const ROLE = "arn:aws:iam::222222222222:role/ecr-token-rotator-spoke";

function settings(params: Record<string, string>) {
  const defaults: Record<string, string> = {
    secretName: "ecr/{account}/{region}/credentials",
    pullAlarmEvaluationMinutes: "3",
    pullAlarmDatapoints: "2",
    createEksAccessEntries: "false",
    scheduleRate: "rate(10 hours)",
    freshnessWindowHours: "11",
    freshnessThresholdSeconds: "10800",
  };
  const values: Record<string, string> = { "self:service": "ecr-token-rotator", "sls:stage": "test", "self:provider.region": "us-east-1" };
  for (const [key, value] of Object.entries({ ...defaults, ...params })) values[`param:${key}`] = value;
  return stack.readSettings(async (name: string) => values[name] ?? "");
}
const bySid = (statements: Json[]) => Object.fromEntries(statements.map((s) => [s.Sid, s]));
const FLEET_SIDS = ["AssumeClusterRoles", "EcrPublicToken", "ShareOwnSecrets", "ReplicateOwnSecrets", "ReplicaKeys"];

describe("fleet IAM statements", () => {
  it("none of them without fleet parameters", async () => {
    const sids = stack.iamStatementsFor(await settings({ eksClusters: "prod" })).map((s: Json) => s.Sid);
    for (const sid of FLEET_SIDS) expect(sids).not.toContain(sid);
  });

  it("sts:AssumeRole on exactly the configured roles; those clusters are described as the role, not by the function", async () => {
    const s = await settings({
      eksClusters: JSON.stringify([{ name: "spoke", region: "eu-west-1", roleArn: ROLE }, { name: "spoke2", roleArn: ROLE }, { name: "hub" }]),
    });
    const st = bySid(stack.iamStatementsFor(s));
    expect(st.AssumeClusterRoles).toEqual({ Sid: "AssumeClusterRoles", Effect: "Allow", Action: ["sts:AssumeRole"], Resource: [ROLE] });
    expect(st.DescribeFallbackClusters.Resource).toEqual([{ "Fn::Sub": "arn:${AWS::Partition}:eks:us-east-1:${AWS::AccountId}:cluster/hub" }]);
    // no access entry for a cluster in another account
    const withEntries = await settings({ createEksAccessEntries: "true", eksClusters: JSON.stringify([{ name: "spoke", roleArn: ROLE }, { name: "hub" }]) });
    expect(Object.keys(stack.resourcesFor(withEntries).Resources).filter((k) => k.startsWith("EksAccessEntry"))).toEqual(["EksAccessEntryHub"]);
    await expect(settings({ eksClusters: JSON.stringify([{ name: "x", roleArn: "arn:aws:iam::2:role/x" }]) })).rejects.toThrow(
      /cluster x: roleArn must be an IAM role ARN/,
    );
  });

  it("ECR Public's token when public.ecr.aws is configured (no resource-level permissions)", async () => {
    const st = bySid(stack.iamStatementsFor(await settings({ ecrRegistries: "public.ecr.aws" })));
    expect(st.EcrPublicToken).toEqual({
      Sid: "EcrPublicToken",
      Effect: "Allow",
      Action: ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"],
      Resource: "*",
    });
  });

  it("resource policies and replication on the product's secret patterns only; replica keys for encryption", async () => {
    const st = bySid(
      stack.iamStatementsFor(
        await settings({
          combinedSecretName: "ecr/all",
          kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/aaaa",
          secretReaders: "333333333333",
          secretReplicaRegions: "eu-west-1,us-west-2:arn:aws:kms:us-west-2:123456789012:key/bbbb",
        }),
      ),
    );
    const arn = (region: string, name: string) => ({ "Fn::Sub": `arn:\${AWS::Partition}:secretsmanager:${region}:\${AWS::AccountId}:secret:${name}-??????` });
    // Exact names (the own registry's, rendered by CloudFormation; the combined secret), each with
    // the six characters Secrets Manager appends.
    const own = (r: string) => [arn(r, "ecr/${AWS::AccountId}/${AWS::Region}/credentials"), arn(r, "ecr/all")];
    expect(st.ReadOwnSecretPolicies).toEqual({
      Sid: "ReadOwnSecretPolicies",
      Effect: "Allow",
      Action: ["secretsmanager:GetResourcePolicy"],
      Resource: own("${AWS::Region}"),
    });
    expect(st.ShareOwnSecrets).toEqual({
      Sid: "ShareOwnSecrets",
      Effect: "Allow",
      Action: ["secretsmanager:PutResourcePolicy"],
      Resource: own("${AWS::Region}"),
      Condition: { Bool: { "secretsmanager:BlockPublicPolicy": "true" } },
    });
    expect(st.ReplicateOwnSecrets.Action).toEqual(["secretsmanager:ReplicateSecretToRegions"]);
    expect(st.ReplicateOwnSecrets.Resource).toEqual(["${AWS::Region}", "eu-west-1", "us-west-2"].flatMap(own));
    expect(st.ReplicaKeys).toEqual({
      Sid: "ReplicaKeys",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Encrypt"],
      Resource: ["arn:aws:kms:us-west-2:123456789012:key/bbbb"],
      Condition: { StringEquals: { "kms:ViaService": [{ "Fn::Sub": "secretsmanager.us-west-2.${AWS::URLSuffix}" }] } },
    });
    await expect(settings({ secretReplicaRegions: "eu-west-1:alias/x" })).rejects.toThrow(/the replica key must be a KMS key ARN/);
  });
});
