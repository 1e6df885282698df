/**
 * The member-account template (infra/cloudformation/member-account.cjs): what no local emulator
 * can create (EKS access entries) is checked here, in the rendered template; its trust policy is
 * created in LocalStack and read back through IAM by cfn-deploy.test.ts.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { REPO, type Json } from "./support";

const require = createRequire(import.meta.url);
const { renderMemberTemplate, CLUSTER_SLOTS } = require("../../infra/cloudformation/member-account.cjs");
const template = renderMemberTemplate({ version: "0.0.0-test" });

describe("the member-account template", () => {
  it("trusts only the central role, only with the ExternalId", () => {
    const role = template.Resources.CentralAccessRole;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Sid: "CentralFunction",
        Effect: "Allow",
        Principal: { AWS: { Ref: "CentralRoleArn" } },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": { Ref: "ExternalId" } } },
      },
    ]);
    expect(template.Parameters.ExternalId.NoEcho).toBe(true);
    const pattern = new RegExp(template.Parameters.CentralRoleArn.AllowedPattern);
    expect(pattern.test("arn:aws:iam::111111111111:role/ecr-token-rotator-prod-eu-west-1-lambdaRole")).toBe(true);
    expect(pattern.test("arn:aws:iam::111111111111:root")).toBe(false);
    expect(pattern.test("*")).toBe(false);
  });

  it("an EKS access entry per named cluster slot, mapping the role to the group infra/k8s/components/fallback/rbac.yaml binds, with no access policy", () => {
    const entries = Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.Type === "AWS::EKS::AccessEntry");
    expect(entries).toHaveLength(CLUSTER_SLOTS);
    entries.forEach(([id, entry], i) => {
      expect(id).toBe(`AccessEntry${i + 1}`);
      expect(entry.Condition).toBe(`HasCluster${i + 1}`);
      expect(entry.Properties).toEqual({
        ClusterName: { Ref: `Cluster${i + 1}` },
        PrincipalArn: { "Fn::GetAtt": ["CentralAccessRole", "Arn"] },
        Type: "STANDARD",
        KubernetesGroups: [{ Ref: "KubernetesGroup" }],
      });
      expect(template.Conditions[`HasCluster${i + 1}`]).toEqual({ "Fn::Not": [{ "Fn::Equals": [{ Ref: `Cluster${i + 1}` }, ""] }] });
    });
    const rbac = readFileSync(join(REPO, "infra/k8s/components/fallback/rbac.yaml"), "utf8")
      .split(/^---$/m)
      .map((doc) => load(doc) as Json)
      .filter(Boolean);
    const groups = rbac
      .filter((d) => d.kind === "ClusterRoleBinding")
      .flatMap((d) => d.subjects.filter((s: Json) => s.kind === "Group").map((s: Json) => s.name));
    expect(groups).toContain(template.Parameters.KubernetesGroup.Default);
  });

  it("describes only the named clusters of its own account and region", () => {
    const policy = template.Resources.CentralAccessPolicy;
    expect(policy.Condition).toBe("HasAnyCluster");
    const statement = policy.Properties.PolicyDocument.Statement[0];
    expect(statement.Action).toBe("eks:DescribeCluster");
    expect(statement.Resource[0]).toEqual({
      "Fn::If": ["HasCluster1", { "Fn::Sub": "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${Cluster1}" }, { Ref: "AWS::NoValue" }],
    });
    expect(JSON.stringify(template.Resources)).not.toMatch(/"\*"/);
  });
});
