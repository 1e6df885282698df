/**
 * The CLI behaves like the tools on-call engineers know (issue 20, items 5, 7, 8, 9, 11), run
 * as an operator runs it (bin/ecr-token-rotator.mjs → dist/cli.mjs) against moto: --help on
 * every command, --version, "did you mean" (the command checked first), --profile/--region like
 * the AWS CLI, --output json, doctor --quiet, exit codes, a JSON Report on a configuration error,
 * the first line naming --registry, no truncation in a pipe, and demo captions a user can repeat.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { distEnv, distPath } from "../support/dist";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";

const USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const TOKEN_CLOCK = "2014-12-31T12:30:00Z"; // moto's token expires 2015-01-01T00:00:00Z
const COMMANDS = ["rotate", "heal", "diagnose", "doctor", "invoke"];

let moto: MotoServer;
const dir = mkdtempSync(join(tmpdir(), "cli-conventions-"));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { env, maxBuffer: 8 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  ...distEnv(),
  HOME: dir,
  ...motoEnv(moto.url),
  ECR_REGISTRIES: `${USE1},${EUW1}`,
  SECRET_NAME: "ecr/{region}/credentials",
});

const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => run("bin/ecr-token-rotator.mjs", args, { ...baseEnv(), ...env });

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await moto.reset();
});

describe("help, version, did you mean (item 7)", () => {
  it("--help and -h on every command: usage, its options, an example; exit 0", async () => {
    for (const command of [...COMMANDS, "eks-token"]) {
      for (const flag of ["--help", "-h"]) {
        const out = await cli([command, flag]);
        expect(out, `${command} ${flag}`).toMatchObject({ code: 0, stderr: "" });
        expect(out.stdout).toMatch(new RegExp(`^usage: ecr-token-rotator ${command}`));
        if (command !== "eks-token") expect(out.stdout).toMatch(/\noptions:\n[\s\S]*\nexamples?:\n {2}ecr-token-rotator /);
      }
    }
    expect((await cli(["rotate", "--help"])).stdout).toContain("--registry HOST");
    expect((await cli(["doctor", "--help"])).stdout).toContain("--quiet");
    expect((await cli(["help", "heal"])).stdout).toMatch(/^usage: ecr-token-rotator heal/);
    const overview = await cli(["--help"]);
    expect(overview.code).toBe(0);
    for (const command of COMMANDS) expect(overview.stdout).toContain(`  ${command} `);
  });

  it("--version prints the package's version and the Node.js it runs on", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const out = await cli(["--version"]);
    expect(out).toMatchObject({ code: 0, stderr: "" });
    expect(out.stdout.trim()).toBe(`ecr-token-rotator ${version} (node ${process.versions.node})`);
  });

  it("the command is checked first: heel --cluster prod is an unknown command with the nearest one", async () => {
    const out = await cli(["heel", "--cluster", "prod"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('unknown command "heel"; did you mean heal?');
    expect(out.stderr).not.toContain("is not an option");
    expect((await cli(["diagnos"])).stderr).toContain("did you mean diagnose?");
  });

  it("an unknown option is named with the nearest options; a wrong --output value too", async () => {
    const out = await cli(["heal", "--namepsace", "team-a"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("unknown option --namepsace for heal; did you mean --namespace?");
    expect(out.stderr).toContain("ecr-token-rotator heal --help");
    expect(await cli(["rotate", "--registy", USE1])).toMatchObject({ code: 2, stderr: expect.stringContaining("did you mean --registry?") });
    expect(await cli(["rotate", "--output", "jsno"])).toMatchObject({ code: 2, stderr: expect.stringContaining("expected json or table; did you mean json?") });
    expect(await cli(["rotate", "--quiet"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--quiet is not an option of rotate") });
  });

  it("--output json prints the same Report as --json", async () => {
    const out = await cli(["rotate", "--output", "json", "--dry-run", "--now", TOKEN_CLOCK]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ ok: true, action: "rotate", dryRun: true });
    expect((await cli(["rotate", "--output", "table", "--dry-run", "--now", TOKEN_CLOCK])).stdout).toMatch(/^OK {2}action=rotate/);
  });
});

describe("--profile and --region, like the AWS CLI (item 7)", () => {
  it("a profile the shared files do not have is named, with the nearest ones; nothing runs", async () => {
    const config = join(dir, "aws-config");
    writeFileSync(config, "[default]\nregion = us-east-1\n\n[profile oncall-prod]\nregion = eu-west-1\n\n[sso-session corp]\nsso_region = us-east-1\n");
    const out = await cli(["rotate", "--profile", "oncall-prd", "--now", TOKEN_CLOCK], {
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"),
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`--profile oncall-prd: no such profile in ${config}`);
    expect(out.stderr).toContain("(profiles there: default, oncall-prod); did you mean oncall-prod?");
    expect(out.stderr).not.toContain("Could not load credentials");
    expect(out.stderr).not.toContain("corp");
  });

  it("a profile's credentials are used instead of the environment's, and it changes nothing the run acts on", async () => {
    const credentials = join(dir, "aws-credentials");
    writeFileSync(credentials, "[oncall]\naws_access_key_id = AKIAONCALLPROFILE01\naws_secret_access_key = profile-secret\n");
    const env = { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: join(dir, "none") };
    const plain = await cli(["rotate", "--json", "--dry-run", "--now", TOKEN_CLOCK], env);
    const out = await cli(["rotate", "--profile", "oncall", "--region", "eu-west-1", "--json", "--dry-run", "--now", TOKEN_CLOCK], env);
    expect(out.code).toBe(0);
    expect(out.stderr.split("\n")[0]).toBe(plain.stderr.split("\n")[0]);
    expect(out.stderr.split("\n")[0]).toContain("region us-east-1");
    expect(JSON.parse(out.stdout).registries.map((r: { registry: string }) => r.registry)).toEqual([USE1, EUW1]);
  });
});

describe("doctor --quiet (item 7)", () => {
  it("prints only the failed checks with their fixes, and the summary of all", async () => {
    const full = await cli(["doctor", "--now", TOKEN_CLOCK]);
    const quiet = await cli(["doctor", "--quiet", "--now", TOKEN_CLOCK]);
    expect(quiet.code).toBe(full.code);
    const lines = (text: string, word: string) => text.split("\n").filter((l) => l.startsWith(`${word}  `));
    expect(lines(full.stdout, "PASS").length).toBeGreaterThan(0);
    expect(lines(quiet.stdout, "PASS")).toEqual([]);
    expect(lines(quiet.stdout, "SKIP")).toEqual([]);
    expect(lines(quiet.stdout, "FAIL")).toEqual(lines(full.stdout, "FAIL"));
    const summary = full.stdout.split("\n").find((l) => /^\d+ passed, \d+ failed, \d+ skipped$/.test(l))!;
    expect(quiet.stdout).toContain(`${summary} (--quiet: `);
    const json = JSON.parse((await cli(["doctor", "--quiet", "--json", "--now", TOKEN_CLOCK])).stdout);
    expect(json.checks.some((c: { status: string }) => c.status === "pass")).toBe(true);
  });
});

describe("exit codes and JSON on errors (item 8)", () => {
  it("invoke --event with a file that does not exist: exit 2 with a clear message, no raw ENOENT", async () => {
    const out = await cli(["invoke", "--event", join(dir, "missing.json")]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`--event ${join(dir, "missing.json")}: cannot read it (no such file)`);
    expect(out.stderr).not.toContain("ENOENT");
  });

  it("a configuration error with --json (or --output json) still writes a JSON Report with ok=false and the errors", async () => {
    for (const flag of [["--json"], ["--output", "json"]]) {
      const out = await cli(["rotate", ...flag], { ECR_REGISTRIES: "nope", KMS_KEY_ID: "bad key" });
      expect(out.code).toBe(2);
      const report = JSON.parse(out.stdout);
      expect(report).toMatchObject({ ok: false, action: "rotate", ecrCalls: 0, registries: [] });
      expect(report.errors.some((e: string) => e.includes("ECR_REGISTRIES"))).toBe(true);
      expect(report.errors.some((e: string) => e.includes("KMS_KEY_ID"))).toBe(true);
    }
    const bad = await cli(["rotate", "--json", "--registry", "999999999999.dkr.ecr.us-east-1.amazonaws.com", "--now", TOKEN_CLOCK]);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, errors: [expect.stringContaining("not configured")] });
  });
});

describe("the first line says what this run acts on (item 5)", () => {
  it("--registry narrows the secrets named; an unknown one is said there too", async () => {
    const one = await cli(["rotate", "--registry", EUW1, "--dry-run", "--now", TOKEN_CLOCK]);
    expect(one.code).toBe(0);
    expect(one.stderr.split("\n")[0]).toContain(`; registry ${EUW1}; secret ecr/eu-west-1/credentials; configuration:`);
    const unknown = await cli(["rotate", "--registry", "999999999999.dkr.ecr.us-east-1.amazonaws.com"]);
    expect(unknown.stderr.split("\n")[0]).toContain(
      "registry 999999999999.dkr.ecr.us-east-1.amazonaws.com (999999999999.dkr.ecr.us-east-1.amazonaws.com not in ECR_REGISTRIES)",
    );
  });

  it("--cluster region:name names that cluster; an unknown one is not 'EKS_CLUSTERS is empty'", async () => {
    const env = { EKS_CLUSTERS: "us-east-1:test-cluster", FALLBACK_MODE: "always" };
    const named = await cli(["diagnose", "--cluster", "us-east-1:test-cluster", "--timeout", "1"], env);
    expect(named.stderr.split("\n")[0]).toContain("; cluster us-east-1:test-cluster; all namespaces except");
    const typo = await cli(["heal", "--cluster", "test-clustr", "--now", TOKEN_CLOCK], env);
    expect(typo.code).toBe(2);
    expect(typo.stderr.split("\n")[0]).toContain("cluster test-clustr (test-clustr not in EKS_CLUSTERS: us-east-1:test-cluster)");
    expect(typo.stderr).not.toContain("EKS_CLUSTERS is empty");
    expect(typo.stderr).toContain("did you mean test-cluster?");
  });
});

describe("tables in a pipe are never cut (item 9)", () => {
  it("a long WHY stays whole on its line when standard output is not a terminal", async () => {
    const out = await cli(["rotate"]); // moto's 2015 expiry is refused: a long reason per registry
    expect(out.code).toBe(1);
    const row = out.stdout.split("\n").find((l) => l.startsWith(USE1))!;
    expect(row).toContain("already expired");
    expect(row).not.toContain("…");
    expect(row.length).toBeGreaterThan(120);
  });
});

describe("the demo's captions are commands a user can repeat (item 11)", () => {
  it("each `$` line of the demo, typed into a shell with its exports, runs and does what the demo shows", async () => {
    const demo = await run(distPath("demo.mjs"), [], { PATH: process.env.PATH ?? "", HOME: dir });
    expect(demo.code).toBe(0);
    const captions = demo.stdout.split("\n").filter((l) => l.startsWith("$ "));
    expect(captions.length).toBe(4);
    const exported = Object.fromEntries(
      captions[0]!
        .replace(/^\$ export /, "")
        .split(" ")
        .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
    );
    expect(exported).toMatchObject({ ECR_REGISTRIES: expect.any(String), SECRET_NAME: expect.any(String) });
    const expected = [/created/, /unchanged/, /DRY RUN/];
    for (const [i, caption] of captions.slice(1).entries()) {
      const args = caption
        .replace(/^\$ ecr-token-rotator /, "")
        .replace(/\s+#.*$/, "")
        .split(/\s+/);
      const out = await cli(args, exported);
      expect(out.code, caption).toBe(0);
      expect(out.stdout, caption).toMatch(expected[i]!);
    }
  });
});
