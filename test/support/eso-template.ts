// Renders a template with External Secrets Operator's template engine (Go text/template + sprig,
// as ESO v2 runs it): a tiny Go program in ./eso-template, built once into a cache directory
// outside the clone and reused while its sources are unchanged.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * spec.target.template.data[".dockerconfigjson"] of the ExternalSecret in docs/facts.md §3 (the one users
 * copy, docs/facts.md §3), verbatim; the YAML `|` block keeps the trailing newline.
 */
export const SEED_DOCKERCONFIGJSON_TEMPLATE =
  '{"auths":{"{{ .registry }}":{"username":"AWS","password":"{{ .token }}","auth":"{{ printf "AWS:%s" .token | b64enc }}"}}}\n';

const SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), "eso-template");

/** `${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}`: build products kept outside the clone. */
export function cacheDir(): string {
  const fromEnv = process.env.ECR_ROTATOR_CACHE;
  if (fromEnv) return fromEnv;
  let home: string;
  try {
    home = homedir();
  } catch {
    home = "";
  }
  return join(home || tmpdir(), ".cache", "ecr-token-rotator");
}

/** Hash of every source file of the Go program (go.mod, go.sum, *.go), names included. */
function sourceHash(): string {
  const hash = createHash("sha256");
  const files = readdirSync(SOURCE_DIR)
    .filter((name) => name === "go.mod" || name === "go.sum" || name.endsWith(".go"))
    .sort();
  for (const name of files) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(SOURCE_DIR, name)));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

/** The path the binary for the current sources lives at (it may not exist yet). */
export function esoTemplateBinaryPath(): string {
  return join(cacheDir(), `eso-template-${sourceHash()}`);
}

function goCommand(): string {
  if (process.env.GO) return process.env.GO;
  const pathDirs = (process.env.PATH ?? "").split(":").filter(Boolean);
  if (pathDirs.some((dir) => existsSync(join(dir, "go")))) return "go";
  if (existsSync("/usr/local/go/bin/go")) return "/usr/local/go/bin/go";
  return "go";
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.on("error", () => undefined); // the child may exit before reading everything
    child.stdin.end(opts.input ?? "");
  });
}

let building: Promise<string> | undefined;

/**
 * Builds the Go program if the cache has no binary for the current sources; returns its path.
 * Safe when several test files build at once: each builds to a private name and renames.
 */
export function ensureEsoTemplateBinary(): Promise<string> {
  building ??= (async () => {
    const binary = esoTemplateBinaryPath();
    if (existsSync(binary)) return binary;
    mkdirSync(dirname(binary), { recursive: true });
    const partial = `${binary}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GOTOOLCHAIN: "local",
      GOFLAGS: "-buildvcs=false -mod=readonly",
      CGO_ENABLED: "0",
    };
    let result: RunResult;
    try {
      result = await run(goCommand(), ["build", "-trimpath", "-o", partial, "."], { cwd: SOURCE_DIR, env });
    } catch (error) {
      throw new Error(`cannot run Go to build ${SOURCE_DIR} (is Go installed? run scripts/ensure-test-deps.sh): ${String(error)}`, { cause: error });
    }
    if (result.code !== 0) {
      rmSync(partial, { force: true });
      throw new Error(`building the ESO template program failed (go build in ${SOURCE_DIR}, exit ${result.code}):\n${result.stderr}`);
    }
    renameSync(partial, binary);
    return binary;
  })();
  building.catch(() => {
    building = undefined; // let a later call retry
  });
  return building;
}

/**
 * Renders `template` against `data` exactly as ESO's template engine v2 renders one entry of
 * `spec.target.template.data` (missing keys are errors; sprig without env/expandenv).
 * Rejects with the engine's error message when parsing or execution fails.
 */
export async function renderEsoTemplate(template: string, data: Record<string, string>, key = ".dockerconfigjson"): Promise<string> {
  const binary = await ensureEsoTemplateBinary();
  const result = await run(binary, [], { input: JSON.stringify({ template, data, key }) });
  if (result.code !== 0) {
    throw new Error(`ESO template engine refused the template: ${result.stderr.trim()}`);
  }
  return result.stdout;
}
