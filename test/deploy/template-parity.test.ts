/**
 * One resource model, two deploy paths: the template `osls package` produces and the standalone
 * template `npm run package` renders (infra/cloudformation/template.cjs) are the same stack —
 * resource by resource, under the same logical IDs (so a stack deployed with osls can be updated
 * with the template), once the template's parameters take their defaults and the stack is named
 * as osls names it (<service>-<stage>). Checked for the defaults and for a full set of parameters.
 *
 * Also: `npm run package` writes the versioned zip with its SHA-256, reproducibly, and the
 * template is cfn-lint clean; a configuration the function refuses is refused before anything is
 * written.
 */
import { existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cfnLint, packageService, REPO, run, scratch, unzip, type CfnTemplate, type Json, type Packaged } from "./support";

const require = createRequire(import.meta.url);
const { renderTemplate } = require("../../infra/cloudformation/template.cjs");

const FULL_PARAMS = {
  ecrRegistries: "123456789012.dkr.ecr.eu-west-1.amazonaws.com,210987654321.dkr.ecr.us-east-1.amazonaws.com",
  pullRepositories: "team-a/,base",
  pullThroughCachePrefixes: "docker-hub",
  secretName: "platform/ecr/{account}/{region}",
  combinedSecretName: "platform/ecr/all",
  kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  eksClusters: "prod-a,us-east-1:prod-b,eu-west-1:stage_c",
  fallbackMode: "always",
  createEksAccessEntries: "true",
  healAlarmNames: "platform-image-pull-errors,legacy-imagepullbackoff",
  scheduleRate: "rate(6 hours)",
  freshnessWindowHours: "7",
  alertEmail: "oncall@example.com",
  secretReaders: "333333333333",
  secretReplicaRegions: "us-west-2:arn:aws:kms:us-west-2:123456789012:key/bbbb",
  vpcSubnetIds: "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
  vpcSecurityGroupIds: "sg-0123456789abcdef0",
  memorySize: "512",
};

/** Resources osls adds for its own deployment (the code bucket); the template takes CodeBucket instead. */
const OSLS_ONLY = ["ServerlessDeploymentBucket", "ServerlessDeploymentBucketPolicy"];

const work = scratch("ecr-rotator-parity-");
const cases: { name: string; osls: Packaged; template: CfnTemplate & { Parameters: Json; Conditions: Json }; stackName: string; region: string }[] = [];

beforeAll(async () => {
  for (const [name, stage, region, params] of [
    ["defaults", "test", "us-east-1", {}],
    ["full", "prod", "eu-west-1", FULL_PARAMS],
  ] as const) {
    const osls = await packageService(work.dir, { stage, region, params });
    const { template } = await renderTemplate({ params, region: name === "full" ? region : "", version: "0.0.0-test", codeKey: "code.zip", sha256: "0" });
    cases.push({ name, osls, template, stackName: `ecr-token-rotator-${stage}`, region });
  }
});
afterAll(() => work.cleanup());

/**
 * The template as CloudFormation would resolve it with every parameter at its default and the
 * stack named `stackName`: Refs and ${…} of parameters substituted, Fn::If of the template's own
 * conditions decided, AWS::NoValue removed. Pseudo parameters other than the stack name and
 * GetAtt stay as they are (osls leaves them too). Numbers become strings (CloudFormation passes
 * parameter values as strings either way).
 */
function resolveTemplate(template: Json, stackName: string): Json {
  const value = (name: string): string | undefined => (name === "AWS::StackName" ? stackName : template.Parameters?.[name]?.Default);
  const condition = (name: string): boolean => evaluate(template.Conditions[name]);
  const evaluate = (c: Json): boolean => {
    if (c["Fn::Not"]) return !evaluate(c["Fn::Not"][0]);
    if (c["Fn::Equals"]) return String(walk(c["Fn::Equals"][0])) === String(walk(c["Fn::Equals"][1]));
    if (c.Condition) return condition(c.Condition);
    throw new Error(`condition ${JSON.stringify(c)}`);
  };
  const NO_VALUE = Symbol("NoValue");
  const walk = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(walk).filter((n) => n !== NO_VALUE);
    if (node === null || typeof node !== "object") return typeof node === "number" ? String(node) : node;
    if (typeof node.Ref === "string") {
      if (node.Ref === "AWS::NoValue") return NO_VALUE;
      const v = value(node.Ref);
      return v === undefined ? node : String(v);
    }
    if (typeof node["Fn::Sub"] === "string") {
      const text = node["Fn::Sub"].replace(/\$\{([A-Za-z0-9:]+)\}/g, (m: string, name: string) => value(name) ?? m);
      return text.includes("${") ? { "Fn::Sub": text } : text;
    }
    if (node["Fn::If"]) return walk(condition(node["Fn::If"][0]) ? node["Fn::If"][1] : node["Fn::If"][2]);
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      const w = walk(v);
      if (w !== NO_VALUE) out[k] = w;
    }
    return out;
  };
  return walk(template);
}

/** A policy statement's Resource of one element is that element (IAM reads both alike; osls writes some that way). */
function oneResource(node: Json): Json {
  if (Array.isArray(node)) return node.map(oneResource);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, k === "Resource" && Array.isArray(v) && v.length === 1 ? oneResource(v[0]) : oneResource(v)]),
  );
}

/** osls' side, in the same terms: Fn::Join of literals joined, numbers as strings. */
function normaliseOsls(node: Json): Json {
  if (Array.isArray(node)) return node.map(normaliseOsls);
  if (node === null || typeof node !== "object") return typeof node === "number" ? String(node) : node;
  if (node["Fn::Join"] && node["Fn::Join"][1].every((p: Json) => typeof p === "string")) return node["Fn::Join"][1].join(node["Fn::Join"][0]);
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, normaliseOsls(v)]));
}

describe("the osls stack and the standalone template are one resource model", () => {
  it("have the same logical IDs and types (defaults and full parameters)", () => {
    for (const c of cases) {
      const osls = Object.fromEntries(
        Object.entries(c.osls.template.Resources)
          .filter(([id]) => !OSLS_ONLY.includes(id))
          .map(([id, r]) => [id, r.Type]),
      );
      const template = Object.fromEntries(Object.entries(c.template.Resources).map(([id, r]) => [id, r.Type]));
      expect(template, c.name).toEqual(osls);
      expect(Object.keys(template).length).toBeGreaterThan(c.name === "full" ? 20 : 12);
    }
  });

  it("define every resource alike, property by property (the code location and the role's name aside)", () => {
    for (const c of cases) {
      const resolved = resolveTemplate(c.template, c.stackName);
      const osls = normaliseOsls(c.osls.template);
      for (const [id, resource] of Object.entries(resolved.Resources as Record<string, Json>)) {
        const theirs = oneResource(osls.Resources[id]);
        const ours = oneResource(resource);
        if (id === "RotateLambdaFunction") {
          expect(ours.Properties.Code).toEqual({ S3Bucket: { Ref: "CodeBucket" }, S3Key: "code.zip" });
          delete ours.Properties.Code;
          delete theirs.Properties.Code;
        }
        if (id === "IamRoleLambdaExecution") {
          // osls names the role <service>-<stage>-<region>-lambdaRole; the template lets
          // CloudFormation name it unless RoleName is given (moving from osls: pass that name).
          expect(theirs.Properties.RoleName).toEqual({
            "Fn::Join": ["-", [c.stackName.split("-").slice(0, -1).join("-"), c.stackName.split("-").pop(), { Ref: "AWS::Region" }, "lambdaRole"]],
          });
          expect(ours.Properties.RoleName).toBeUndefined();
          delete theirs.Properties.RoleName;
        }
        expect(ours, `${c.name}: ${id}`).toEqual(theirs);
      }
    }
  });

  it("have the same outputs", () => {
    for (const c of cases) {
      const resolved = resolveTemplate(c.template, c.stackName);
      const osls = normaliseOsls(c.osls.template.Outputs);
      delete osls.ServerlessDeploymentBucketName;
      expect(resolved.Outputs, c.name).toEqual(osls);
    }
  });

  it("take the settings as parameters with the osls defaults; rendered ones are pinned to the rendered value", () => {
    const defaults = cases.find((c) => c.name === "defaults")!.template;
    expect(defaults.Parameters.FallbackMode).toMatchObject({ Default: "on-heal", AllowedValues: ["off", "on-heal", "always"] });
    expect(defaults.Parameters.MemorySize).toMatchObject({ Type: "Number", Default: "256", MinValue: 128 });
    expect(defaults.Parameters.EksClusters).toMatchObject({ Default: "", AllowedValues: [""] });
    expect(new RegExp(defaults.Parameters.EksClusters.AllowedPattern).test("us-esat-1:prod")).toBe(false);
    for (const name of ["CodeBucket", "CodeKey", "RoleName", "PermissionsBoundary"]) expect(defaults.Parameters[name], name).toBeDefined();
    const full = cases.find((c) => c.name === "full")!.template;
    expect(full.Parameters.EksClusters.AllowedValues).toEqual([FULL_PARAMS.eksClusters]);
    expect(full.Parameters.MemorySize.Default).toBe("512");
    expect((full as Json).Rules.RenderedRegion.Assertions[0].Assert).toEqual({ "Fn::Equals": [{ Ref: "AWS::Region" }, "eu-west-1"] });
  });
});

describe("npm run package", () => {
  const out = join(work.dir, "dist");
  let first: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    first = await run(process.execPath, [join(REPO, "scripts/package.mjs"), "--out", out], { cwd: REPO });
  });

  it("writes the versioned zip with its SHA-256, reproducibly, and a cfn-lint clean template", async () => {
    expect(first.code, first.stderr).toBe(0);
    const { version } = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    const zip = join(out, `ecr-token-rotator-${version}.zip`);
    const bytes = readFileSync(zip);
    const sha = createHash("sha256").update(bytes).digest("hex");
    expect(readFileSync(`${zip}.sha256`, "utf8")).toBe(`${sha}  ecr-token-rotator-${version}.zip\n`);
    const files = await unzip(zip, join(work.dir, "unzipped"));
    expect(files).toContain("handlers/rotate.mjs");
    expect(files.some((f) => /^handlers\/chunks\/.+\.mjs$/.test(f))).toBe(true);
    const template = JSON.parse(readFileSync(join(out, "template.json"), "utf8"));
    expect(template.Parameters.CodeKey.Default).toBe(`ecr-token-rotator-${version}.zip`);
    expect(template.Metadata["ecr-token-rotator"]).toMatchObject({ version, codeSha256: sha });
    expect(existsSync(join(out, "template.yaml"))).toBe(true);

    const again = await run(process.execPath, [join(REPO, "scripts/package.mjs"), "--out", join(work.dir, "again")], { cwd: REPO });
    expect(again.code, again.stderr).toBe(0);
    expect(
      createHash("sha256")
        .update(readFileSync(join(work.dir, "again", `ecr-token-rotator-${version}.zip`)))
        .digest("hex"),
    ).toBe(sha);

    const findings = [
      ...(await cfnLint(join(out, "template.yaml"), "us-east-1")),
      ...(await cfnLint(join(out, "member-account.yaml"), "us-east-1")),
      ...(await cfnLint(join(out, "template.json"), "us-east-1")),
    ];
    expect(findings.map((m) => `${m.Rule.Id} ${m.Message}`)).toEqual([]);
  });

  it("renders one configuration with --param/--region, cfn-lint clean", async () => {
    const dir = join(work.dir, "full");
    const args = [join(REPO, "scripts/package.mjs"), "--no-zip", "--out", dir, "--region", "eu-west-1"];
    for (const [k, v] of Object.entries(FULL_PARAMS)) args.push("--param", `${k}=${v}`);
    const result = await run(process.execPath, args, { cwd: REPO });
    expect(result.code, result.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(dir, "template.json"), "utf8"));
    expect(Object.keys(template.Resources)).toEqual(
      expect.arrayContaining(["ImagePullAlarmProda", "ImagePullAlarmStagec", "EksAccessEntryProda", "HealAlarmRule"]),
    );
    expect((await cfnLint(join(dir, "template.yaml"), "eu-west-1")).map((m) => `${m.Rule.Id} ${m.Message}`)).toEqual([]);
  });

  it("refuses, before writing anything, what the function's own validator refuses", async () => {
    for (const [param, expected] of [
      ["ecrRegistries=123456789012.dkr.ecr.foo_bar.amazonaws.com", /ECR_REGISTRIES: invalid ECR registry host/],
      ["eksClusters=us-esat-1:prod", /EKS_CLUSTERS: cluster prod: "us-esat-1" is not a known AWS region \(did you mean us-east-1\?\)/],
      ["writeDebounceSeconds=99999", /WRITE_DEBOUNCE_SECONDS="99999": expected a whole number from 600 to 3600/],
      ["pullSecretName=Bad_Name", /PULL_SECRET_NAME/],
      ["freshnessWindowHours=3", /freshnessWindowHours=3 must be at least the schedule interval/],
    ] as const) {
      const dir = join(work.dir, `refused-${param.split("=")[0]}`);
      const result = await run(process.execPath, [join(REPO, "scripts/package.mjs"), "--no-zip", "--out", dir, "--region", "us-east-1", "--param", param], {
        cwd: REPO,
      });
      expect(result.code, param).toBe(1);
      expect(result.stderr, param).toMatch(/^package: refused: /);
      expect(result.stderr, param).toMatch(expected);
      expect(existsSync(dir), param).toBe(false);
    }
  });
});
