/**
 * Mistakes an operator makes, caught at configuration time with the fix (issue 13 §2): one row per
 * bad configuration, the exact problem text expected. Plus the warnings for variables the product
 * does not read, and the forms EKS_CLUSTERS accepts.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config";
import { ConfigError } from "../../src/shared/errors";

type Env = Record<string, string | undefined>;
const USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

function problems(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe("bad configurations, each with the fix in its message", () => {
  it.each<[string, Env, string]>([
    ["typo in AWS_REGION", { AWS_REGION: "us-esat-1" }, 'AWS_REGION: "us-esat-1" is not a known AWS region (did you mean us-east-1?)'],
    ["typo in AWS_DEFAULT_REGION", { AWS_DEFAULT_REGION: "eu-wset-1" }, 'AWS_DEFAULT_REGION: "eu-wset-1" is not a known AWS region (did you mean eu-west-1?)'],
    [
      "typo in a registry host's region",
      { AWS_REGION: "us-east-1", ECR_REGISTRIES: "123456789012.dkr.ecr.us-esat-1.amazonaws.com" },
      'ECR_REGISTRIES: 123456789012.dkr.ecr.us-esat-1.amazonaws.com: "us-esat-1" is not a known AWS region (did you mean us-east-1?)',
    ],
    [
      "typo in a cluster's region",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: "us-esat-1:prod" },
      'EKS_CLUSTERS: cluster prod: "us-esat-1" is not a known AWS region (did you mean us-east-1?)',
    ],
    [
      "typo in a JSON cluster's region",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: '[{"name":"prod","region":"useast-1"}]' },
      'EKS_CLUSTERS: cluster prod: "useast-1" is not an AWS region (did you mean us-east-1?)',
    ],
    [
      "typo in a cluster ARN's region",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: "arn:aws:eks:us-esat-1:123456789012:cluster/prod" },
      'EKS_CLUSTERS: cluster prod: "us-esat-1" is not a known AWS region (did you mean us-east-1?)',
    ],
    [
      "registries but no AWS_REGION",
      { ECR_REGISTRIES: USE1 },
      "AWS_REGION is not set: it is the region of Secrets Manager, where the secrets are written (the Lambda runtime sets it; on a laptop export it, or use --function NAME)",
    ],
    [
      "a JSON object where a list is expected",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: '{"name":"prod"}' },
      'EKS_CLUSTERS: a JSON object where a list is expected: wrap the entries in [ ], e.g. [{"name":"prod"}]',
    ],
    [
      "invalid JSON",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: '[{"name":"prod" "region":"us-east-1"}]' },
      'EKS_CLUSTERS: invalid JSON at position 16 ("ame\\":\\"prod\\" " here→ "\\"region\\":\\"us"); expected e.g. [{"name":"prod","region":"us-east-1"}]',
    ],
    [
      "JSON that is not a list",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: "[1]" },
      'EKS_CLUSTERS: entries must be region:name strings, cluster ARNs or objects; expected e.g. us-east-1:prod,eu-west-1:staging, or a cluster ARN arn:aws:eks:us-east-1:123456789012:cluster/prod, or JSON [{"name":"prod","region":"us-east-1"}]',
    ],
    [
      "a malformed cluster ARN",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: "arn:aws:eks:us-east-1:123456789012:nodegroup/prod" },
      'EKS_CLUSTERS: "arn:aws:eks:us-east-1:123456789012:nodegroup/prod" is not an EKS cluster ARN (arn:aws:eks:<region>:<account>:cluster/<name>)',
    ],
    [
      "space-separated clusters",
      { AWS_REGION: "us-east-1", EKS_CLUSTERS: "us-east-1:prod us-east-1:staging" },
      'EKS_CLUSTERS: "us-east-1:prod us-east-1:staging" looks space-separated: separate the items with commas (us-east-1:prod,us-east-1:staging)',
    ],
    [
      "space-separated registries",
      { AWS_REGION: "us-east-1", ECR_REGISTRIES: `${USE1} 210987654321.dkr.ecr.us-east-1.amazonaws.com` },
      `ECR_REGISTRIES: "${USE1} 210987654321.dkr.ecr.us-east-1.amazonaws.com" looks space-separated: separate the items with commas (${USE1},210987654321.dkr.ecr.us-east-1.amazonaws.com)`,
    ],
    [
      "space-separated namespaces",
      { AWS_REGION: "us-east-1", TARGET_NAMESPACES: "team-a team-b" },
      'TARGET_NAMESPACES: "team-a team-b" looks space-separated: separate the items with commas (team-a,team-b)',
    ],
    [
      "space-separated ServiceAccounts",
      { AWS_REGION: "us-east-1", PATCH_SERVICE_ACCOUNTS: "default builder" },
      'PATCH_SERVICE_ACCOUNTS: "default builder" looks space-separated: separate the items with commas (default,builder)',
    ],
  ])("%s", (_, env, expected) => {
    expect(problems(env)).toEqual([expected]);
  });

  it("the space-separated items are still checked one by one", () => {
    expect(problems({ AWS_REGION: "us-east-1", TARGET_NAMESPACES: "team-a Team_B" })).toEqual([
      'TARGET_NAMESPACES: "team-a Team_B" looks space-separated: separate the items with commas (team-a,Team_B)',
      'TARGET_NAMESPACES/EXCLUDE_NAMESPACES: "Team_B" is not a valid namespace name',
    ]);
  });

  it("today's confusing message for a JSON object is gone", () => {
    expect(problems({ AWS_REGION: "us-east-1", EKS_CLUSTERS: '{"name":"prod"}' }).join("\n")).not.toContain("is not a valid EKS cluster name");
  });
});

describe("EKS_CLUSTERS forms", () => {
  it("a cluster ARN gives the cluster's name and region (standard, China and GovCloud partitions)", () => {
    const { kubernetes } = loadConfig({
      AWS_REGION: "us-east-1",
      EKS_CLUSTERS:
        "arn:aws:eks:eu-west-1:123456789012:cluster/prod,arn:aws-cn:eks:cn-north-1:123456789012:cluster/cn-prod, arn:aws-us-gov:eks:us-gov-west-1:123456789012:cluster/gov",
    });
    expect(kubernetes.clusters).toEqual([
      { name: "prod", region: "eu-west-1" },
      { name: "cn-prod", region: "cn-north-1" },
      { name: "gov", region: "us-gov-west-1" },
    ]);
  });

  it("a region newer than the SDK's data is accepted when it matches its partition's pattern", () => {
    expect(loadConfig({ AWS_REGION: "us-west-3", EKS_CLUSTERS: "eu-south-7:prod" }).kubernetes.clusters).toEqual([{ name: "prod", region: "eu-south-7" }]);
  });

  it("an endpoint alone is accepted: DescribeCluster supplies the CA", () => {
    expect(loadConfig({ AWS_REGION: "us-east-1", EKS_CLUSTERS: '[{"name":"prod","endpoint":"https://10.0.0.1:443/"}]' }).kubernetes.clusters).toEqual([
      { name: "prod", region: "us-east-1", endpoint: "https://10.0.0.1:443" },
    ]);
  });
});

describe("variables the product does not read", () => {
  it.each<[string, Env, string]>([
    ["ECR_REGISTRY", { ECR_REGISTRY: USE1 }, `ECR_REGISTRY is not a variable of ecr-token-rotator and is ignored: did you mean ECR_REGISTRIES?`],
    ["EKS_CLUSTER", { EKS_CLUSTER: "prod" }, "EKS_CLUSTER is not a variable of ecr-token-rotator and is ignored: did you mean EKS_CLUSTERS?"],
    ["SECRETNAME", { SECRETNAME: "x" }, "SECRETNAME is not a variable of ecr-token-rotator and is ignored: did you mean SECRET_NAME?"],
    ["KUBE_CONCURENCY", { KUBE_CONCURENCY: "4" }, "KUBE_CONCURENCY is not a variable of ecr-token-rotator and is ignored: did you mean KUBE_CONCURRENCY?"],
    ["TARGET_NAMESPACE", { TARGET_NAMESPACE: "a" }, "TARGET_NAMESPACE is not a variable of ecr-token-rotator and is ignored: did you mean TARGET_NAMESPACES?"],
    ["PULL_SECRET", { PULL_SECRET: "a" }, "PULL_SECRET is not a variable of ecr-token-rotator and is ignored: did you mean PULL_SECRET_NAME?"],
    [
      "an unknown variable with the product's prefix",
      { ECR_PURGE_OLD: "true" },
      'ECR_PURGE_OLD is not a variable of ecr-token-rotator and is ignored (README.md, "Configuration", lists them)',
    ],
  ])("%s warns, naming the intended variable", (_, env, warning) => {
    expect(loadConfig({ AWS_REGION: "us-east-1", ...env }).warnings).toEqual([warning]);
  });

  it("says when the intended variable is set too", () => {
    expect(loadConfig({ AWS_REGION: "us-east-1", EKS_CLUSTER: "a", EKS_CLUSTERS: "us-east-1:prod" }).warnings).toEqual([
      "EKS_CLUSTER is not a variable of ecr-token-rotator and is ignored: did you mean EKS_CLUSTERS? (EKS_CLUSTERS is also set)",
    ]);
  });

  it("a bad configuration lists the warnings after the problems (the near-miss often explains them)", () => {
    try {
      loadConfig({ ECR_REGISTRY: USE1 });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).warnings).toEqual(["ECR_REGISTRY is not a variable of ecr-token-rotator and is ignored: did you mean ECR_REGISTRIES?"]);
      expect((error as Error).message).toMatch(/\nwarning:\n {2}- ECR_REGISTRY is not a variable/);
    }
  });

  it("the Lambda runtime's, the SDK's and the shell's variables raise nothing", () => {
    const env = {
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_LAMBDA_FUNCTION_NAME: "f",
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
      AWS_ACCESS_KEY_ID: "a",
      AWS_SECRET_ACCESS_KEY: "b",
      AWS_SESSION_TOKEN: "c",
      AWS_ENDPOINT_URL: "http://x",
      AWS_PROFILE: "p",
      PATH: "/bin",
      HOME: "/root",
      LANG: "C",
      POWERTOOLS_SERVICE_NAME: "s",
      NODE_OPTIONS: "",
      ECR_ROTATOR_CACHE: "/c",
      KUBECONFIG: "/k",
      LAMBDA_TASK_ROOT: "/var/task",
      TZ: ":UTC",
      _HANDLER: "rotate.handler",
    };
    expect(loadConfig(env).warnings).toBeUndefined();
  });
});
