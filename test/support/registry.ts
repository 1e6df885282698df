// A real container registry on 127.0.0.1 for real-client tests: Debian's `docker-registry`
// (distribution 2.8) with htpasswd (bcrypt) authentication over plain HTTP, holding one small
// image `demo/app:1`, and `skopeo` as the client that authenticates with a Docker config file.
//
// The point: a dockerconfigjson produced by the product (`{"auths":{"HOST":{…}}}`) is written
// unchanged to a file and used as skopeo's `--authfile`. skopeo (containers/image) reads only the
// `auth` field of the entry for HOST — the same field the kubelet prefers — so `probeBasic` is
// there to check the `username`/`password` fields separately.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PortClashError, saysAddressInUse, startOnFreePorts, waitFor } from "./ports";

export interface RegistryUser {
  username: string;
  password: string;
}

export interface SkopeoResult {
  ok: boolean;
  /** skopeo's stderr (on refusal it names the reason, e.g. "unauthorized: authentication required"). */
  stderr: string;
}

export interface Registry {
  /** "127.0.0.1:PORT": the key a dockerconfigjson must use for this registry. */
  host: string;
  /** "127.0.0.1:PORT/demo/app:1": the image pushed at start. */
  imageRef: string;
  /** `skopeo inspect --authfile FILE --tls-verify=false docker://HOST/demo/app:1`. */
  skopeoInspect(authFilePath: string): Promise<SkopeoResult>;
  /** Writes `content` (e.g. a dockerconfigjson string, unchanged) to a private file and returns its path. */
  writeAuthFile(content: string): string;
  /** HTTP status of `GET /v2/` with Basic credentials (200 accepted, 401 refused). */
  probeBasic(username: string, password: string): Promise<number>;
  /** Replaces the accepted users (the registry re-reads htpasswd on change), e.g. to rotate a password. */
  setUsers(users: RegistryUser[]): Promise<void>;
  /** Pushes `source` (a skopeo source, e.g. `oci:DIR:TAG`) as `repository:tag` with the harness's push user. */
  push(source: string, repositoryTag: string): Promise<void>;
  stop(): Promise<void>;
}

const REPOSITORY = "demo/app";
const TAG = "1";
/** bcrypt (the only htpasswd hash docker-registry accepts) ignores every byte after the 72nd. */
const BCRYPT_MAX_BYTES = 72;

function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) {
    throw new Error(`${path} not found (Debian package ${pkg}); run scripts/ensure-test-deps.sh`);
  }
}

function exec(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`${cmd} failed to run: ${error.message}`));
          return;
        }
        resolve({ code: error ? Number(error.code) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

function validateUser(user: RegistryUser): void {
  if (!user.username || user.username.includes(":") || /\s/.test(user.username)) {
    throw new Error(`registry user name ${JSON.stringify(user.username)} is not usable in htpasswd / Basic auth`);
  }
  if (user.password.length === 0 || /[\r\n]/.test(user.password)) {
    throw new Error(`registry user ${user.username}: the password must be a non-empty single line`);
  }
  const bytes = Buffer.byteLength(user.password, "utf8");
  if (bytes > BCRYPT_MAX_BYTES) {
    // A longer password would be compared on its first 72 bytes only, so a wrong password sharing
    // that prefix would be accepted: refuse rather than run a test that cannot fail.
    throw new Error(
      `registry user ${user.username}: password is ${bytes} bytes; bcrypt compares only the first ${BCRYPT_MAX_BYTES}, ` +
        "so this registry could not tell it from a wrong one sharing that prefix",
    );
  }
}

/** One htpasswd line (`user:$2y$…`), password passed on stdin (never on a command line). */
async function htpasswdLine(user: RegistryUser): Promise<string> {
  validateUser(user);
  const result = await exec("/usr/bin/htpasswd", ["-niB", user.username], { input: `${user.password}\n` });
  const line = result.stdout.trim();
  if (result.code !== 0 || !line.startsWith(`${user.username}:$2`)) {
    throw new Error(`htpasswd failed for user ${user.username} (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return line;
}

// ---- a one-layer OCI image layout, written by hand ----

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A ustar archive holding one regular file (enough for an image layer). */
function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512, 0);
  const put = (text: string, offset: number, length: number) => header.write(text, offset, length, "ascii");
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0") + "\0";
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(content.length, 12), 124, 12);
  put(octal(1_700_000_000, 12), 136, 12);
  put("        ", 148, 8);
  put("0", 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put("root", 265, 32);
  put("root", 297, 32);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024, 0)]);
}

function writeOciLayout(dir: string): void {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const addBlob = (data: Buffer | string) => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest), data);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
  };
  const tar = tarOneFile("hello.txt", Buffer.from("hello from the ecr-token-rotator test registry\n"));
  const layer = addBlob(gzipSync(tar));
  const config = addBlob(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [`sha256:${sha256(tar)}`] },
    }),
  );
  const manifest = addBlob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
    }),
  );
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": TAG },
        },
      ],
    }),
  );
}

// ---- the registry ----

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const proc of running) proc.kill("SIGKILL");
    });
  }
}

/**
 * Starts docker-registry on a free port of 127.0.0.1 with the given htpasswd users (plus a
 * private push user) and pushes one small image, `demo/app:1`, into it with skopeo.
 */
export interface RegistryOptions {
  users: RegistryUser[];
  /** Listen address (default 127.0.0.1 and a free port). */
  addr?: string;
  /** The name clients use in image references (`host`; default: the listen address). */
  host?: string;
  /** Serve HTTPS with this certificate (PEM files); `caFile` is what the harness trusts for its probes. */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export async function startRegistry(options: RegistryOptions): Promise<Registry> {
  requireTool("/usr/bin/docker-registry", "docker-registry");
  requireTool("/usr/bin/skopeo", "skopeo");
  requireTool("/usr/bin/htpasswd", "apache2-utils");
  for (const user of options.users) validateUser(user);

  const dir = mkdtempSync(join(tmpdir(), "ecr-rotator-registry-"));
  const htpasswdPath = join(dir, "htpasswd");
  const pusher: RegistryUser = { username: "harness-pusher", password: randomBytes(18).toString("base64url") };
  if (options.users.some((u) => u.username === pusher.username)) {
    throw new Error(`user name ${pusher.username} is reserved by the registry harness`);
  }
  let authFileCount = 0;
  // skopeo gets a private HOME and runtime dir: no ~/.docker/config.json or containers auth.json
  // of the machine can leak into a test.
  const skopeoHome = join(dir, "home");
  mkdirSync(join(skopeoHome, "run"), { recursive: true, mode: 0o700 });
  const skopeoEnv: NodeJS.ProcessEnv = { ...process.env, HOME: skopeoHome, XDG_RUNTIME_DIR: join(skopeoHome, "run") };
  delete skopeoEnv.REGISTRY_AUTH_FILE;
  delete skopeoEnv.XDG_CONFIG_HOME;
  delete skopeoEnv.DOCKER_CONFIG;

  const writeHtpasswd = async (users: RegistryUser[]) => {
    const lines = await Promise.all([pusher, ...users].map(htpasswdLine));
    const partial = `${htpasswdPath}.${randomBytes(4).toString("hex")}`;
    writeFileSync(partial, `${lines.join("\n")}\n`, { mode: 0o600 });
    renameSync(partial, htpasswdPath); // atomic: the registry never sees half a file
  };

  let child: ChildProcess | undefined;
  try {
    await writeHtpasswd(options.users);
    // A port given in the configuration: started again on another should it be taken meanwhile
    // (a fixed `addr`, such as 127.0.0.1:443 for the node, is tried once).
    const launch = async (addr: string) => {
      const host = options.host ?? addr;
      const configPath = join(dir, "config.yml");
      writeFileSync(
        configPath,
        [
          "version: 0.1",
          "log:",
          "  level: warn",
          "  accesslog:",
          "    disabled: true",
          "storage:",
          "  filesystem:",
          `    rootdirectory: ${join(dir, "storage")}`,
          "  delete:",
          "    enabled: true",
          "http:",
          `  addr: ${addr}`,
          `  secret: ${randomBytes(16).toString("hex")}`,
          ...(options.tls ? ["  tls:", `    certificate: ${options.tls.certFile}`, `    key: ${options.tls.keyFile}`] : []),
          "auth:",
          "  htpasswd:",
          "    realm: ecr-token-rotator-test",
          `    path: ${htpasswdPath}`,
          "",
        ].join("\n"),
      );
      const proc = spawn("/usr/bin/docker-registry", ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
      child = proc;
      killOnExit(proc);
      let log = "";
      proc.stderr?.on("data", (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4000);
      });
      let exited = false;
      proc.on("exit", () => {
        exited = true;
      });
      const ca = options.tls ? readFileSync(options.tls.caFile) : undefined;
      const v2Status = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const req = (ca ? https : http).get(
            `${ca ? "https" : "http"}://${addr}/v2/`,
            { headers, ...(ca ? { ca, servername: host.split(":")[0] } : {}) },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on("error", reject);
        });
      try {
        await waitFor(
          "docker-registry",
          async () => {
            if (exited) {
              const port = Number(addr.split(":").pop());
              throw saysAddressInUse(log) ? new PortClashError("docker-registry", [port], log) : new Error(`docker-registry exited: ${log}`);
            }
            return (await v2Status({})) === 401 && !exited; // up, and demanding credentials (and ours)
          },
          30_000,
          50,
        );
      } catch (error) {
        proc.kill("SIGKILL");
        child = undefined;
        throw error;
      }
      return { addr, host, proc, v2Status, hasExited: () => exited };
    };
    const { addr, host, proc, v2Status, hasExited } =
      options.addr !== undefined ? await launch(options.addr) : await startOnFreePorts(1, ([port = 0]) => launch(`127.0.0.1:${port}`));

    const writeAuthFile = (content: string): string => {
      authFileCount += 1;
      const path = join(dir, `authfile-${authFileCount}.json`);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };
    const basic = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString("base64");

    // Push the demo image with the harness's own push user.
    const layoutDir = join(dir, "oci");
    writeOciLayout(layoutDir);
    // Pushes go to the listen address (the host name may not resolve to it yet).
    const pushAuth = writeAuthFile(JSON.stringify({ auths: { [addr]: { auth: basic(pusher.username, pusher.password) } } }));
    const push = async (source: string, repositoryTag: string) => {
      const pushed = await exec(
        "/usr/bin/skopeo",
        [
          "--command-timeout",
          "60s",
          "--insecure-policy",
          "copy",
          "--dest-authfile",
          pushAuth,
          "--dest-tls-verify=false",
          source,
          `docker://${addr}/${repositoryTag}`,
        ],
        { env: skopeoEnv, timeoutMs: 90_000 },
      );
      if (pushed.code !== 0) {
        throw new Error(`pushing ${source} as ${repositoryTag} with skopeo failed (exit ${pushed.code}): ${pushed.stderr.trim()}`);
      }
    };
    await push(`oci:${layoutDir}:${TAG}`, `${REPOSITORY}:${TAG}`).catch((error: Error) => {
      throw new Error(error.message.replace(/^pushing \S+ as \S+/, "pushing the demo image"));
    });

    return {
      host,
      imageRef: `${host}/${REPOSITORY}:${TAG}`,
      async skopeoInspect(authFilePath: string): Promise<SkopeoResult> {
        const result = await exec(
          "/usr/bin/skopeo",
          ["--command-timeout", "30s", "inspect", "--authfile", authFilePath, "--tls-verify=false", `docker://${host}/${REPOSITORY}:${TAG}`],
          { env: skopeoEnv, timeoutMs: 60_000 },
        );
        return { ok: result.code === 0, stderr: result.stderr };
      },
      writeAuthFile,
      async probeBasic(username: string, password: string): Promise<number> {
        return v2Status({ authorization: `Basic ${basic(username, password)}` });
      },
      async setUsers(users: RegistryUser[]): Promise<void> {
        await writeHtpasswd(users);
      },
      push,
      stop(): Promise<void> {
        return new Promise<void>((resolve) => {
          const done = () => {
            rmSync(dir, { recursive: true, force: true });
            resolve();
          };
          if (hasExited()) return done();
          proc.once("exit", done);
          proc.kill("SIGTERM");
          setTimeout(() => proc.kill("SIGKILL"), 3000).unref();
        });
      },
    };
  } catch (error) {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
