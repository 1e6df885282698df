/**
 * Offline packaging helpers for the deployment tests: `osls package` (open-source Serverless
 * Framework + serverless-esbuild) with dummy credentials, and `cfn-lint` (PyPI) on its output.
 *
 * Each packaging runs in a private copy of the service (serverless.yml, infra/, handlers/, src/,
 * package.json, tsconfig.json; node_modules symlinked) with its own HOME, so it never writes
 * .esbuild/ or .serverless/ into the working tree and cannot collide with another packaging.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Json; Condition?: string; DependsOn?: unknown }>;
  Outputs?: Record<string, Json>;
  Conditions?: Record<string, Json>;
}

export interface Packaged {
  /** The directory `--package` wrote: templates, zip, serverless-state.json. */
  outDir: string;
  templatePath: string;
  template: CfnTemplate;
  zipPath: string;
  zipBytes: number;
  /** Wall-clock seconds of the `osls package` process. */
  seconds: number;
  output: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 240_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof (error as NodeJS.ErrnoException).code === "string") {
        reject(new Error(`cannot run ${cmd}: ${error.message}`));
        return;
      }
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolvePromise({ code: typeof code === "number" ? code : 1, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A scratch directory, removed by `cleanup()`. */
export function scratch(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Environment for osls: no real credentials, no profile, no endpoint, a private HOME. */
function oslsEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    AWS_ACCESS_KEY_ID: "x",
    AWS_SECRET_ACCESS_KEY: "x",
    AWS_CONFIG_FILE: join(home, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "no-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    NO_COLOR: "1",
    CI: "1",
  };
}

/**
 * Runs `osls package --stage <stage> --region <region> --param k=v …` on a private copy of the
 * service under `workDir`. Rejects with osls' output when it fails.
 */
export async function packageService(workDir: string, opts: { stage: string; region: string; params?: Record<string, string> }): Promise<Packaged> {
  const name = `${opts.stage}-${opts.region}-${Math.random().toString(36).slice(2, 8)}`;
  const svc = join(workDir, `svc-${name}`);
  const home = join(workDir, `home-${name}`);
  const outDir = join(workDir, `out-${name}`);
  mkdirSync(svc, { recursive: true });
  mkdirSync(home, { recursive: true });
  for (const entry of ["serverless.yml", "package.json", "tsconfig.json", "infra", "handlers", "src"]) {
    cpSync(join(REPO, entry), join(svc, entry), { recursive: true });
  }
  symlinkSync(join(REPO, "node_modules"), join(svc, "node_modules"), "dir");

  const args = [join(REPO, "node_modules/osls/bin/serverless.js"), "package", "--stage", opts.stage, "--region", opts.region, "--package", outDir];
  for (const [key, value] of Object.entries(opts.params ?? {})) args.push("--param", `${key}=${value}`);
  const started = process.hrtime.bigint();
  const result = await run(process.execPath, args, { cwd: svc, env: oslsEnv(home) });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const output = `${result.stdout}\n${result.stderr}`;
  if (result.code !== 0) throw new Error(`osls package failed (exit ${result.code}):\n${output}`);

  const templatePath = join(outDir, "cloudformation-template-update-stack.json");
  const zipPath = join(outDir, "ecr-token-rotator.zip");
  return {
    outDir,
    templatePath,
    template: JSON.parse(readFileSync(templatePath, "utf8")) as CfnTemplate,
    zipPath,
    zipBytes: statSync(zipPath).size,
    seconds,
    output,
  };
}

export interface LintMatch {
  Level: "Error" | "Warning" | "Informational";
  Message: string;
  Rule: { Id: string };
  Location: { Path: (string | number)[] };
}

/** cfn-lint (Python) on a template: its findings as JSON. */
export async function cfnLint(templatePath: string, region: string): Promise<LintMatch[]> {
  const args = ["--format", "json", "--regions", region, "--", templatePath];
  let result: ExecResult;
  try {
    result = await run("cfn-lint", args);
  } catch {
    result = await run("python3", ["-m", "cfnlint", ...args]); // installed but not on PATH
  }
  // Exit code bits: 2 errors, 4 warnings, 8 informational; anything else (1, 32) is a failure to lint.
  if (result.code & ~(2 | 4 | 8)) throw new Error(`cfn-lint could not lint ${templatePath} (exit ${result.code}): ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout || "[]") as LintMatch[];
}

/** Unpacks a zip (Python's zipfile: no unzip binary needed). */
export async function unzip(zipPath: string, dest: string): Promise<string[]> {
  const result = await run("python3", [
    "-c",
    "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nz.extractall(sys.argv[2])\nprint('\\n'.join(i.filename for i in z.infolist() if not i.is_dir()))",
    zipPath,
    dest,
  ]);
  if (result.code !== 0) throw new Error(`cannot unzip ${zipPath}: ${result.stderr}`);
  return result.stdout.split("\n").filter((line) => line !== "");
}

/** Every IAM policy statement of an AWS::IAM::Role resource (inline policies). */
export function roleStatements(template: CfnTemplate, roleId: string): Json[] {
  const role = template.Resources[roleId];
  if (role?.Type !== "AWS::IAM::Role") throw new Error(`${roleId} is not an AWS::IAM::Role`);
  return ((role.Properties.Policies ?? []) as Json[]).flatMap((policy) => policy.PolicyDocument.Statement as Json[]);
}

export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** EventBridge pattern matching for the subset the stack uses: arrays of exact values, nested objects. */
export function matchesPattern(pattern: Json, event: Json): boolean {
  for (const [key, expected] of Object.entries(pattern as Record<string, Json>)) {
    const actual = event?.[key];
    if (Array.isArray(expected)) {
      if (!expected.some((value) => typeof value !== "object" && value === actual)) return false;
    } else if (typeof expected === "object" && expected !== null) {
      if (typeof actual !== "object" || actual === null || !matchesPattern(expected, actual)) return false;
    } else {
      throw new Error(`unsupported pattern element at ${key}`);
    }
  }
  return true;
}

/**
 * The Kubernetes manifests under infra/k8s a cluster admin applies (paths relative to it, sorted):
 * every YAML file but the kustomize files (kustomization.yaml and the overlays' local-config
 * pull-secret-name.yaml, which kustomize reads and never outputs).
 */
export function k8sManifestFiles(): string[] {
  const root = join(REPO, "infra/k8s");
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  const kustomizeOnly = (file: string) =>
    file.endsWith("kustomization.yaml") || readFileSync(join(root, file), "utf8").includes("config.kubernetes.io/local-config");
  return walk("")
    .filter((f) => !kustomizeOnly(f))
    .sort();
}
