/**
 * AWS permissions as narrow as the job (issue 19 §4), asserted on the resource model the osls
 * stack and the standalone template share (infra/serverless/stack.cjs): secret ARNs exact (the
 * name plus Secrets Manager's "-??????"), creation and tagging only with the ownership tag in the
 * request, resource policies only with BlockPublicPolicy, replica keys only through Secrets
 * Manager; and the template's parameter patterns agree with the function's own validator.
 *
 * ARN patterns are evaluated the way IAM evaluates them (`*` any run of characters, `?` one),
 * after CloudFormation's Fn::Sub with a concrete account/region.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { loadConfig, OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE } from "../../src/config/config";
import type { Json } from "./support";

const require = createRequire(import.meta.url);
const stack = require("../../infra/serverless/stack.cjs");
const { SETTINGS, byKey } = require("../../infra/serverless/parameters.cjs");

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

async function settings(params: Record<string, string>) {
  const defaults: Record<string, string> = Object.fromEntries((SETTINGS as Json[]).map((s) => [s.key, String(s.default)]));
  const values: Record<string, string> = { "self:service": "ecr-token-rotator", "sls:stage": "test", "self:provider.region": REGION };
  for (const [key, value] of Object.entries<string>({ ...defaults, ...params })) values[`param:${key}`] = value;
  return stack.readSettings(async (name: string) => values[name] ?? "");
}

/** Fn::Sub with the pseudo parameters of one account and region. */
function resolve(value: Json): string {
  const text = typeof value === "string" ? value : value["Fn::Sub"];
  if (typeof text !== "string") throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  return text
    .replaceAll("${AWS::Partition}", "aws")
    .replaceAll("${AWS::Region}", REGION)
    .replaceAll("${AWS::AccountId}", ACCOUNT)
    .replaceAll("${AWS::URLSuffix}", "amazonaws.com");
}

/** IAM's wildcard matching: `*` any characters (including `/`), `?` exactly one. */
function iamMatches(pattern: string, arn: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(arn);
}

const secretArn = (name: string, region = REGION) => `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-AbCdEf`;

/** Whether any Allow statement with `action` covers `arn` (conditions aside). */
function allows(statements: Json[], action: string, arn: string): boolean {
  return statements.some(
    (s) => s.Effect === "Allow" && [s.Action].flat().includes(action) && [s.Resource].flat().some((r: Json) => iamMatches(resolve(r), arn)),
  );
}

describe("secret ARNs: the exact names the function writes", () => {
  it("the default secret: its own name only — not credentials-db, credentials/x, or {account} spanning '/'", async () => {
    const statements = stack.iamStatementsFor(await settings({}));
    const own = `ecr/${ACCOUNT}/${REGION}/credentials`;
    for (const action of ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"]) {
      expect(allows(statements, action, secretArn(own)), action).toBe(true);
      for (const other of [
        `${own}-db`,
        `${own}/x`,
        `ecr/${ACCOUNT}/other/path/${REGION}/credentials`,
        `ecr/999999999999/${REGION}/credentials`,
        `ecr/${ACCOUNT}/eu-west-1/credentials`,
      ]) {
        expect(allows(statements, action, secretArn(other)), `${action} on ${other}`).toBe(false);
      }
    }
  });

  it("with registries: one exact name per registry (ECR Public renders as public/us-east-1), plus the combined secret", async () => {
    const statements = stack.iamStatementsFor(
      await settings({
        ecrRegistries: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com,210987654321.dkr.ecr.us-east-1.amazonaws.com,public.ecr.aws`,
        combinedSecretName: "ecr/all",
      }),
    );
    const names = [`ecr/${ACCOUNT}/eu-west-1/credentials`, "ecr/210987654321/us-east-1/credentials", "ecr/public/us-east-1/credentials", "ecr/all"];
    for (const name of names) expect(allows(statements, "secretsmanager:PutSecretValue", secretArn(name)), name).toBe(true);
    for (const name of ["ecr/all-other", "ecr/allx", `ecr/${ACCOUNT}/us-east-1/credentials`, "ecr/333333333333/eu-west-1/credentials"]) {
      expect(allows(statements, "secretsmanager:PutSecretValue", secretArn(name)), name).toBe(false);
    }
    const own = statements.find((s: Json) => s.Sid === "OwnSecrets");
    expect(own.Resource.map(resolve).every((r: string) => r.endsWith("-??????") && !r.includes("*"))).toBe(true);
  });

  it("the KMS key is usable only through Secrets Manager in this region, for those exact secrets", async () => {
    const statements = stack.iamStatementsFor(await settings({ kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/aaaa` }));
    const key = statements.find((s: Json) => s.Sid === "SecretKey");
    expect(resolve(key.Condition.StringEquals["kms:ViaService"])).toBe(`secretsmanager.${REGION}.amazonaws.com`);
    expect(key.Condition.StringLike["kms:EncryptionContext:SecretARN"].map(resolve)).toEqual([
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:ecr/${ACCOUNT}/${REGION}/credentials-??????`,
    ]);
  });
});

describe("conditions on the writes that could widen reach", () => {
  it("CreateSecret and TagResource only with the ownership tag the function sets (aws:RequestTag)", async () => {
    const statements: Json[] = stack.iamStatementsFor(
      await settings({ secretReaders: "333333333333", kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/aaaa` }),
    );
    const granting = statements.filter((s) => [s.Action].flat().some((a: string) => a === "secretsmanager:CreateSecret" || a === "secretsmanager:TagResource"));
    expect(granting.length).toBeGreaterThan(0);
    for (const s of granting) {
      expect(s.Condition).toEqual({ StringEquals: { [`aws:RequestTag/${OWNERSHIP_TAG_KEY}`]: OWNERSHIP_TAG_VALUE } });
    }
  });

  it("PutResourcePolicy only with secretsmanager:BlockPublicPolicy", async () => {
    const statements: Json[] = stack.iamStatementsFor(
      await settings({ secretReaders: "333333333333", kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/aaaa` }),
    );
    const granting = statements.filter((s) => [s.Action].flat().includes("secretsmanager:PutResourcePolicy"));
    expect(granting).toHaveLength(1);
    expect(granting[0].Condition).toEqual({ Bool: { "secretsmanager:BlockPublicPolicy": "true" } });
  });

  it("replica keys only through Secrets Manager in their replica regions (kms:ViaService), like the primary key", async () => {
    const statements: Json[] = stack.iamStatementsFor(
      await settings({
        secretReplicaRegions: `eu-west-1:arn:aws:kms:eu-west-1:${ACCOUNT}:key/bbbb,us-west-2:arn:aws:kms:us-west-2:${ACCOUNT}:key/cccc,ap-south-1`,
      }),
    );
    const kms = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith("kms:")));
    expect(kms).toHaveLength(1);
    expect(kms[0].Condition.StringEquals["kms:ViaService"].map(resolve)).toEqual([
      "secretsmanager.eu-west-1.amazonaws.com",
      "secretsmanager.us-west-2.amazonaws.com",
    ]);
  });

  it("pull rights stay repository/* by default (documented), and narrow to the given prefixes", async () => {
    const pull = async (params: Record<string, string>) =>
      stack
        .iamStatementsFor(await settings(params))
        .find((s: Json) => s.Sid === "PullConfiguredRepositories")
        .Resource.map(resolve);
    expect(await pull({})).toEqual([`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/*`]);
    expect(await pull({ pullRepositories: "team-a/,base" })).toEqual([
      `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team-a/*`,
      `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/base*`,
    ]);
  });
});

describe("the template's parameter patterns state the function's own rules", () => {
  /** Whether the function's validator accepts `value` for `variable` (with a region set). */
  const functionAccepts = (variable: string, value: string) => {
    try {
      loadConfig({ AWS_REGION: REGION, [variable]: value });
      return true;
    } catch {
      return false;
    }
  };
  const cases: Record<string, string[]> = {
    ecrRegistries: [
      `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`,
      `https://${ACCOUNT}.dkr.ecr.us-west-3.amazonaws.com/`,
      `${ACCOUNT}.dkr.ecr.foo_bar.amazonaws.com`,
      `${ACCOUNT}.dkr.ecr.us-esat-1.amazonaws.com`,
      `1234.dkr.ecr.us-east-1.amazonaws.com`,
      `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil.com`,
      "public.ecr.aws",
      `${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn`,
    ],
    eksClusters: [
      "prod",
      "us-east-1:prod",
      "us-esat-1:prod",
      "foo_bar:prod",
      "eu-west-1:stage_c,prod-a",
      `arn:aws:eks:eu-west-1:${ACCOUNT}:cluster/x`,
      "-bad",
      "us-east-1:",
    ],
    // (The function accepts the typo "eu-wset-1" here — its replica regions get no typo check — the pattern refuses it.)
    secretReplicaRegions: ["eu-west-1", "eu_west_1", `us-west-2:arn:aws:kms:us-west-2:${ACCOUNT}:key/bbbb`, "foo_bar"],
    fallbackMode: ["off", "on-heal", "always", "sometimes"],
    pullSecretName: ["ecr-pull-secret", "Bad_Name", "a.b"],
    targetNamespaces: ["", "*", "a,b", "A"],
  };
  for (const [key, values] of Object.entries(cases)) {
    it(`${key}: the parameter accepts what the function accepts and refuses what it refuses`, () => {
      const setting = byKey.get(key);
      const accepts = (value: string) =>
        (setting.pattern === undefined || new RegExp(setting.pattern).test(value)) && (setting.values === undefined || setting.values.includes(value));
      const disagreements = values.filter((v) => accepts(v) !== functionAccepts(setting.env, v));
      expect(disagreements).toEqual([]);
      // Each case list holds at least one refusal: the pattern is no match-all.
      expect(values.some((v) => !functionAccepts(setting.env, v))).toBe(true);
    });
  }
});
