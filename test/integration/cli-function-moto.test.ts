/**
 * The CLI acting on what is deployed (issue 13 §1), as an operator runs it (bin → dist/cli.mjs),
 * against moto: `--function` reads the function's configuration from moto's Lambda (a function
 * created there with a dummy zip: moto stores the configuration without running code), local
 * product variables override it one by one, the first line says what the command acts on, and a
 * default-only rotate refuses to create a secret without --create.
 */
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { execFile } from "node:child_process";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import { distEnv } from "../support/dist";

const EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const TOKEN_CLOCK = "2014-12-31T12:30:00Z"; // moto's token expires 2015-01-01T00:00:00Z
const FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:rotator-prod";

let moto: MotoServer;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI with only AWS credentials and the endpoint (no product variable) plus `env`. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH ?? "", ...distEnv(), ...motoEnv(moto.url, "eu-west-1"), ...env };
  for (const [k, v] of Object.entries(base)) if (v === undefined) delete base[k];
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/ecr-token-rotator.mjs", ...args], { env: base }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** moto's IAM query API (no SDK client needed): the role Lambda requires to exist. */
async function createLambdaRole(): Promise<string> {
  const body = new URLSearchParams({
    Action: "CreateRole",
    Version: "2010-05-08",
    RoleName: "rotator-prod-role",
    AssumeRolePolicyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
    }),
  });
  const res = await fetch(`${moto.url}/`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
    },
  });
  if (!res.ok) throw new Error(`CreateRole: ${res.status}`);
  return "arn:aws:iam::123456789012:role/rotator-prod-role";
}

/** The deployed function: its environment is what the CLI must act with. */
async function deployFunction(variables: Record<string, string>): Promise<void> {
  const lambda = new LambdaClient({ region: "eu-west-1", endpoint: moto.url, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  const emptyZip = Buffer.concat([Buffer.from("PK\x05\x06"), Buffer.alloc(18)]);
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: "rotator-prod",
      Runtime: "nodejs22.x",
      Role: await createLambdaRole(),
      Handler: "rotate.handler",
      Code: { ZipFile: emptyZip },
      Environment: { Variables: variables },
    }),
  );
  lambda.destroy();
}

async function secretNames(region: string): Promise<string[]> {
  const sm = new SecretsManagerClient({ region, endpoint: moto.url, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  const out = await sm.send(new ListSecretsCommand({}));
  sm.destroy();
  return (out.SecretList ?? []).map((s) => s.Name!).sort();
}

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
});

describe("--function: act with the deployed function's configuration", () => {
  it("rotate --function NAME writes the function's secret in the function's region and says so on its first line", async () => {
    await deployFunction({ ECR_REGISTRIES: EUW1, SECRET_NAME: "deployed/{region}/ecr" });
    const out = await cli(["rotate", "--function", "rotator-prod", "--now", TOKEN_CLOCK]);
    expect(out.code).toBe(0);
    expect(out.stderr.split("\n")[0]).toBe(
      `rotate: account 123456789012, region eu-west-1; secret deployed/eu-west-1/ecr; configuration: function rotator-prod (${FUNCTION_ARN})`,
    );
    expect(out.stdout).toMatch(/deployed\/eu-west-1\/ecr\s+created/);
    expect(await secretNames("eu-west-1")).toEqual(["deployed/eu-west-1/ecr"]);
  });

  it("a product variable set in the shell overrides the function's, and the first line names it", async () => {
    await deployFunction({ ECR_REGISTRIES: EUW1, SECRET_NAME: "deployed/{region}/ecr" });
    const out = await cli(["rotate", "--function", "rotator-prod", "--now", TOKEN_CLOCK, "--json"], { SECRET_NAME: "override/{region}/ecr" });
    expect(out.code).toBe(0);
    expect(out.stderr.split("\n")[0]).toContain("secret override/eu-west-1/ecr; configuration: function rotator-prod");
    expect(out.stderr.split("\n")[0]).toMatch(/overridden here: SECRET_NAME$/);
    expect(JSON.parse(out.stdout).registries).toMatchObject([{ secretName: "override/eu-west-1/ecr", outcome: "created" }]);
  });

  it("a function ARN gives the region, whatever AWS_REGION the shell has", async () => {
    await deployFunction({ ECR_REGISTRIES: EUW1, SECRET_NAME: "deployed/{region}/ecr" });
    const out = await cli(["rotate", "--function", FUNCTION_ARN, "--now", TOKEN_CLOCK], { AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "us-east-1" });
    expect(out.code).toBe(0);
    expect(out.stderr).toContain("region eu-west-1");
    expect(await secretNames("eu-west-1")).toEqual(["deployed/eu-west-1/ecr"]);
    expect(await secretNames("us-east-1")).toEqual([]);
  });

  it("diagnose --function with no cluster in the function says it needs one (nothing read)", async () => {
    await deployFunction({ ECR_REGISTRIES: EUW1 });
    const out = await cli(["diagnose", "--function", "rotator-prod"]);
    expect(out.code).toBe(2);
    expect(out.stderr.split("\n")[0]).toContain(
      "diagnose: account 123456789012, region eu-west-1; no cluster (EKS_CLUSTERS is empty); configuration: function rotator-prod",
    );
    expect(out.stderr).toContain('action "diagnose" needs a cluster');
  });

  it("eks-token --function signs for the function's only cluster, in that cluster's region", async () => {
    await deployFunction({ ECR_REGISTRIES: EUW1, EKS_CLUSTERS: "eu-central-1:prod-eu" });
    const out = await cli(["eks-token", "--function", "rotator-prod"]);
    expect(out.code).toBe(0);
    const token: string = JSON.parse(out.stdout).status.token;
    const url = Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString("utf8");
    expect(url).toMatch(/^https:\/\/sts\.eu-central-1\.amazonaws\.com\/\?Action=GetCallerIdentity/);
    expect(url).toContain("host%3Bx-k8s-aws-id");
    // A kubectl exec plugin's stdout stays the ExecCredential alone; the first line is for --check or a terminal.
    expect(out.stderr).toBe("");
  });

  it("a function that does not exist: exit 2, the region looked in and how to find the name", async () => {
    const out = await cli(["heal", "--function", "no-such-function"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("--function no-such-function: GetFunctionConfiguration failed in eu-west-1");
    expect(out.stderr).toContain("aws lambda list-functions --region eu-west-1");
    expect(await secretNames("eu-west-1")).toEqual([]);
  });
});

describe("without --function", () => {
  it("a rotate with only default configuration refuses to create a secret without --create, then creates it with --create", async () => {
    const refused = await cli(["rotate", "--now", TOKEN_CLOCK]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.split("\n")[0]).toBe(
      "rotate: account of your AWS credentials, region eu-west-1; secret ecr/{account}/eu-west-1/credentials (this account's registry) [default name]; configuration: this shell's environment (use --function NAME to act with the deployed function's)",
    );
    expect(refused.stdout).toContain("pass --create to create it");
    expect(refused.stdout).toContain("--function NAME");
    expect(await secretNames("eu-west-1")).toEqual([]);

    const created = await cli(["rotate", "--create", "--now", TOKEN_CLOCK]);
    expect(created.code).toBe(0);
    expect(await secretNames("eu-west-1")).toEqual(["ecr/123456789012/eu-west-1/credentials"]);
    // Once it exists, a default-only run updates it without --create.
    const again = await cli(["rotate", "--force", "--now", TOKEN_CLOCK]);
    expect(again.code).toBe(0);
  });

  it("heal with no cluster prints a visible line that the Kubernetes step was skipped, and why", async () => {
    const out = await cli(["heal", "--now", TOKEN_CLOCK], { SECRET_NAME: "ecr/{region}/credentials" });
    expect(out.code).toBe(0);
    expect(out.stderr.split("\n")[0]).toContain("no cluster (EKS_CLUSTERS is empty)");
    expect(out.stdout).toMatch(/^kubernetes: SKIPPED: no cluster configured \(EKS_CLUSTERS is empty\): no pull Secret was pushed/m);
  });

  it("a near-miss variable warns on standard error, naming the intended one", async () => {
    const out = await cli(["rotate", "--dry-run", "--now", TOKEN_CLOCK], { SECRET_NAME: "ecr/{region}/credentials", ECR_REGISTRY: EUW1 });
    expect(out.code).toBe(0);
    expect(out.stderr).toContain("warning: ECR_REGISTRY is not a variable of ecr-token-rotator and is ignored: did you mean ECR_REGISTRIES?");
  });

  it("registries but no AWS_REGION: named at configuration time (not 'Region is missing' later), exit 2", async () => {
    const out = await cli(["rotate", "--now", TOKEN_CLOCK], { ECR_REGISTRIES: EUW1, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("AWS_REGION is not set: it is the region of Secrets Manager");
    expect(out.stderr).not.toContain("Region is missing");
  });

  it("--create is refused where it means nothing", async () => {
    expect(await cli(["diagnose", "--create"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--create is not an option of diagnose") });
  });
});
