// The Kubernetes test bed: the real kube-apiserver (built from k8s.io/kubernetes, see
// scripts/build-kube-apiserver.sh) on etcd, on 127.0.0.1 only, with
//   - EKS-style authentication: a TokenReview webhook (test/bed/webhook) that checks
//     `k8s-aws-v1.` tokens as aws-iam-authenticator does and verifies their SigV4 signature as
//     STS would, against a table of test IAM identities; plus a static admin token;
//   - --authorization-mode=RBAC, with optional RBAC manifests applied at start;
//   - ESO's CRDs (external-secrets.io/v1) installed and Established;
//   - a fault-injecting TLS proxy in front of the API server (same CA as the API server);
//   - optionally the real External Secrets Operator controller (scripts/build-eso.sh), running
//     as its own ServiceAccount with ESO's RBAC, pointed at an AWS endpoint (moto).
// One bed per test file (beforeAll/afterAll). Everything it starts dies with stop(), with the
// test process, or (through a supervisor with PDEATHSIG) when the test process is killed.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { PortClashError, saysAddressInUse, startOnFreePorts } from "../support/ports";
import { ESO_CLIENT_CONTROLLERS, esoArgs, esoEnv, ESO_RBAC_MANIFEST, ESO_SERVICE_ACCOUNT, ensureEsoBinaries, type EsoController, type EsoOptions } from "./eso";
import { FaultProxy } from "./fault-proxy";
import { policiesIn, waitForPolicies } from "./admission";

export { FaultProxy, FaultProxyClient } from "./fault-proxy";
export type { Fault, FaultRule, RequestMatch, RequestRecord, RequestQuery, ActiveRule } from "./fault-proxy";
export type { EsoController, EsoOptions } from "./eso";

/** The repository root (ECR_ROTATOR_ROOT when this file runs from a bundle elsewhere). */
export const ROOT = process.env.ECR_ROTATOR_ROOT || resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A test IAM identity: credentials STS knows, their role ARN, and the EKS access entry's user. */
export interface BedIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  /** If set, tokens must carry exactly this X-Amz-Security-Token; if not, any is accepted. */
  sessionToken?: string;
  /** IAM role (or user) ARN the credentials belong to. */
  arn: string;
  /** Kubernetes username and groups the access entry of `arn` maps to ("{{SessionName}}" is replaced). */
  username: string;
  groups: string[];
  /** Role credentials: the session the assumed-role ARN names (default "bed-session"). */
  sessionName?: string;
  /** Known to STS but mapped by no access entry: refused after the signature check, naming the ARN. */
  unmapped?: boolean;
}

/** The identities the rest of the project uses. */
export const DEFAULT_IDENTITIES = {
  rotator: {
    accessKeyId: "AKIAROTATORTESTKEY01",
    secretAccessKey: "rotator-test-secret-key",
    arn: "arn:aws:iam::123456789012:role/ecr-token-rotator",
    username: "ecr-token-rotator",
    groups: ["ecr-token-rotator"],
  },
  nobody: {
    accessKeyId: "AKIANOBODYTESTKEY001",
    secretAccessKey: "nobody-test-secret-key",
    arn: "arn:aws:iam::123456789012:role/nobody",
    username: "nobody",
    groups: [],
  },
} satisfies Record<string, BedIdentity>;

export interface BedOptions {
  /** Default "test-cluster": the x-k8s-aws-id tokens must be signed for. */
  clusterName?: string;
  /** Default "us-east-1" (informational: tokens for any region's STS endpoint are accepted, as on EKS). */
  region?: string;
  /** Extra identities by name (a name or access key id already present is replaced). */
  identities?: Record<string, BedIdentity>;
  /** Include DEFAULT_IDENTITIES (default true). */
  defaultIdentities?: boolean;
  /**
   * YAML files applied as admin after start (relative paths: to the repository root); the
   * ValidatingAdmissionPolicies among them are waited for until enforced. PRODUCT_MANIFESTS
   * (./product-manifests) is the product's access as shipped.
   */
  rbacManifests?: readonly string[];
  /**
   * Install ESO's CRDs (default true): those of the newest ESO release the product targets
   * (scripts/build-kube-apiserver.sh) — or, with `eso`, those of the release the controller runs.
   */
  esoCrds?: boolean;
  /**
   * Run the real External Secrets Operator controller (test/bed/eso.ts). `true` = no AWS
   * endpoint override (only useful without AWS stores); pass `{ awsEndpoint: moto.url }` for moto.
   */
  eso?: boolean | EsoOptions;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: string[];
  /**
   * For a real node (test/bed/node.ts): client certificates signed by the bed's CA are accepted,
   * and kubelets are authorized as in a cluster (Node authorizer, NodeRestriction admission).
   */
  nodeAuth?: boolean;
  /** Print progress to stderr. */
  verbose?: boolean;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. with `-f -`). */
  input?: string;
  /** Run as this bearer token instead of the admin token. */
  token?: string;
  /** Go through the fault proxy instead of straight to the API server. */
  viaProxy?: boolean;
  /** Throw when kubectl exits non-zero (default false). */
  check?: boolean;
  env?: Record<string, string>;
}

export interface Bed {
  clusterName: string;
  region: string;
  /** https://127.0.0.1:PORT of kube-apiserver. */
  apiServerUrl: string;
  /** https://127.0.0.1:PORT of the fault proxy in front of it (same CA). */
  proxyUrl: string;
  proxy: FaultProxy;
  /** Base64 of the CA PEM (the format of EKS DescribeCluster certificateAuthority.data). */
  caData: string;
  /** The CA PEM itself, and its path. */
  caPem: string;
  caFile: string;
  /** Static token of user "admin" in group system:masters. */
  adminToken: string;
  /** Path of an admin kubeconfig (direct URL). */
  adminKubeconfig: string;
  /** Identities by name (with their secrets: test credentials only). */
  identities: Record<string, BedIdentity>;
  /** The TokenReview webhook (http://127.0.0.1:PORT): /identities, /decisions. */
  webhookUrl: string;
  /** The bed's temporary directory (logs, kubeconfigs, certificates). */
  dir: string;
  /** kubectl as admin (or as `opts.token`). */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** Writes a kubeconfig for a bearer token; returns its path. */
  kubeconfigFor(token: string, opts?: { viaProxy?: boolean; name?: string }): string;
  /** Environment for the AWS CLI / SDK signing as a named identity (no endpoint; offline signing). */
  awsEnv(name: string): Record<string, string>;
  /** Adds or replaces identities at runtime. */
  addIdentities(ids: Record<string, BedIdentity>): Promise<void>;
  /** The webhook's recent decisions (reasons for refusals; no tokens). */
  decisions(): Promise<Array<{ time: string; authenticated: boolean; reason?: string; username?: string; arn?: string; accessKeyId?: string }>>;
  /**
   * Creates a namespace and its `default` ServiceAccount (no kube-controller-manager runs here,
   * so nothing else creates it), optionally labelled.
   */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** The External Secrets Operator controller, when started with `eso`. */
  eso?: EsoController;
  stop(): Promise<void>;
}

// ------------------------------------------------------------------------------------------
// process bookkeeping

interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: boolean;
  exitCode: number | null;
}

const live = new Set<{ procs: Proc[]; dir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const bed of live) {
      for (const p of bed.procs) if (!p.exited) p.child.kill("SIGKILL");
      try {
        rmSync(bed.dir, { recursive: true, force: true });
      } catch {
        // best effort at exit
      }
    }
  });
}

/** Removes bed directories left by test processes that died without cleaning up. */
function sweepStaleBeds(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => n.startsWith("ecr-bed-"));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(base, name);
    let pid: number;
    try {
      pid = Number(readFileSync(join(dir, "owner.pid"), "utf8"));
    } catch {
      continue; // being created right now, or not ours
    }
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, 0);
      continue; // owner alive
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") continue;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** A process of the bed: `cmd ARGS` under the supervisor, its output in `logFile`. */
interface ProcSpec {
  supervisor: string;
  name: string;
  cmd: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

function startProc(procs: Proc[], { supervisor, name, cmd, args, logFile, env }: ProcSpec): Proc {
  const out = createWriteStream(logFile);
  // stdin stays open: the supervisor stops its child when it closes (parent gone or stop()).
  const child = spawn(supervisor, ["supervise", "--", cmd, ...args], { stdio: ["pipe", "pipe", "pipe"], ...(env ? { env } : {}) });
  const proc: Proc = { name, child, logFile, exited: false, exitCode: null };
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  child.stdin.on("error", () => undefined);
  child.on("exit", (code) => {
    proc.exited = true;
    proc.exitCode = code;
  });
  child.on("close", () => out.end());
  procs.push(proc);
  return proc;
}

async function stopProc(p: Proc, timeoutMs = 8000): Promise<void> {
  if (p.exited) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      p.child.kill("SIGKILL");
    }, timeoutMs);
    p.child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    p.child.kill("SIGTERM");
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, procs: Proc[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.exited);
    if (dead) throw new Error(`${dead.name} exited (code ${dead.exitCode}) while waiting for ${what}; log ${dead.logFile}:\n${tail(dead.logFile)}`);
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${String(last)}` : last ? `: ${JSON.stringify(last)}` : ""}`,
  );
}

/**
 * Starts a server process on ports it was given and waits until it is ready. When it dies saying
 * its address was in use (another process took a reserved port first), it leaves `procs` and a
 * {@link PortClashError} asks {@link startOnFreePorts} for other ports. A short settle after the
 * first answer makes sure the answer was our process's, not that of the one holding the port.
 */
async function startListening(procs: Proc[], ports: number[], start: () => Proc, ready: () => Promise<void>): Promise<Proc> {
  const proc = start();
  try {
    await ready();
    await sleep(300);
    if (proc.exited) throw new Error(`${proc.name} exited (code ${proc.exitCode}) after it seemed ready; log ${proc.logFile}:\n${tail(proc.logFile)}`);
    return proc;
  } catch (error) {
    if (proc.exited || (await exitedWithin(proc, 1_000))) {
      const log = tail(proc.logFile, 50);
      if (saysAddressInUse(log)) {
        procs.splice(procs.indexOf(proc), 1);
        throw new PortClashError(proc.name, ports, log);
      }
    }
    throw error;
  }
}

async function exitedWithin(proc: Proc, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms && !proc.exited; waited += 100) await sleep(100);
  return proc.exited;
}

function httpsGet(url: string, ca: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env, cwd: opts.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code: code ?? -1 }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Builds (first time) or finds (cached) the bed's programs. */
export function ensureBedBinaries(): { kubeApiserver: string; webhook: string; esoCrds: string; etcd: string } {
  const res = spawnSync("sh", [join(ROOT, "scripts", "build-kube-apiserver.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (res.status !== 0) throw new Error(`scripts/build-kube-apiserver.sh failed (exit ${res.status}); see its messages above`);
  const kv: Record<string, string> = {};
  for (const line of res.stdout.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!;
  }
  const need = (k: string) => {
    const v = kv[k];
    if (!v) throw new Error(`scripts/build-kube-apiserver.sh printed no ${k}= line`);
    return v;
  };
  return { kubeApiserver: need("KUBE_APISERVER"), webhook: need("BED_WEBHOOK"), esoCrds: need("ESO_CRDS"), etcd: need("ETCD") };
}

function kubeconfigYaml(server: string, caData: string, token: string, name: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${name}`,
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${caData}`,
    "users:",
    `- name: ${name}`,
    "  user:",
    `    token: ${JSON.stringify(token)}`,
    "contexts:",
    `- name: ${name}`,
    "  context:",
    `    cluster: ${name}`,
    `    user: ${name}`,
    `current-context: ${name}`,
    "",
  ].join("\n");
}

// ------------------------------------------------------------------------------------------

export async function startBed(options: BedOptions = {}): Promise<Bed> {
  const started = Date.now();
  const say = (msg: string) => {
    if (options.verbose) process.stderr.write(`testbed: ${msg} (+${Date.now() - started} ms)\n`);
  };
  const clusterName = options.clusterName ?? "test-cluster";
  const region = options.region ?? "us-east-1";
  const identities: Record<string, BedIdentity> = {
    ...(options.defaultIdentities === false ? {} : structuredClone(DEFAULT_IDENTITIES)),
    ...(options.identities ?? {}),
  };
  const bins = ensureBedBinaries();
  const esoOptions: EsoOptions | undefined = options.eso === true ? {} : options.eso || undefined;
  const esoBins = esoOptions ? ensureEsoBinaries(ROOT) : undefined;
  say("binaries ready");

  // Temporary files in RAM when possible (etcd fsyncs are the slow part of a write).
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  sweepStaleBeds(base);
  const dir = mkdtempSync(join(base, "ecr-bed-"));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const procs: Proc[] = [];
  const entry = { procs, dir };
  live.add(entry);
  installExitHook();
  let proxy: FaultProxy | undefined;

  const cleanup = async () => {
    await proxy?.stop().catch(() => undefined);
    // ESO first (it would only log errors without an API server), then the API server (it
    // holds etcd connections), then the rest.
    const order = ["eso", "kube-apiserver", "etcd", "webhook"];
    for (const name of order) {
      const p = procs.find((x) => x.name === name);
      if (p) await stopProc(p);
    }
    for (const p of procs) await stopProc(p);
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // ---- certificates ----
    const pki = join(dir, "pki");
    const certs = await run(bins.webhook, ["certs", "-dir", pki]);
    if (certs.code !== 0) throw new Error(`bed-webhook certs failed: ${certs.stderr}`);
    const caPem = readFileSync(join(pki, "ca.crt"), "utf8");
    const caData = Buffer.from(caPem).toString("base64");

    // ---- etcd (ports given up front: started again on others should one be taken meanwhile) ----
    const etcdUrl = await startOnFreePorts(2, async ([etcdClient, etcdPeer]) => {
      const url = `http://127.0.0.1:${etcdClient}`;
      await startListening(
        procs,
        [etcdClient!, etcdPeer!],
        () =>
          startProc(procs, {
            supervisor: bins.webhook,
            name: "etcd",
            cmd: bins.etcd,
            args: [
              "--name=bed",
              `--data-dir=${join(dir, `etcd-${etcdClient}`)}`, // fresh on each attempt
              `--listen-client-urls=${url}`,
              `--advertise-client-urls=${url}`,
              `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
              `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
              `--initial-cluster=bed=http://127.0.0.1:${etcdPeer}`,
              "--initial-cluster-state=new",
              "--logger=zap",
              "--log-level=warn",
              "--quota-backend-bytes=1073741824",
            ],
            logFile: join(dir, "etcd.log"),
          }),
        () =>
          waitUntil(
            "etcd",
            async () => {
              const res = await fetch(`${url}/health`);
              return res.ok && ((await res.json()) as { health?: string }).health === "true";
            },
            30_000,
            procs,
          ),
      );
      return url;
    });
    say("etcd healthy");

    // ---- webhook ----
    const webhookConfig = join(dir, "webhook.json");
    writeFileSync(webhookConfig, JSON.stringify({ clusterName, identities: Object.values(identities) }), { mode: 0o600 });
    const webhookLog = join(dir, "webhook.log");
    const webhook = startProc(procs, {
      supervisor: bins.webhook,
      name: "webhook",
      cmd: bins.webhook,
      args: ["serve", "-config", webhookConfig, "-listen", "127.0.0.1:0"],
      logFile: webhookLog,
    });
    const webhookAddr = await new Promise<string>((resolveAddr, reject) => {
      const rl = createInterface({ input: webhook.child.stdout! });
      const timer = setTimeout(() => reject(new Error(`webhook did not start: ${tail(webhookLog)}`)), 15_000);
      rl.on("line", (line) => {
        const m = /^LISTENING (\S+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolveAddr(m[1]!);
        }
      });
      webhook.child.once("exit", () => reject(new Error(`webhook exited: ${tail(webhookLog)}`)));
    });
    const webhookUrl = `http://${webhookAddr}`;
    const webhookKubeconfig = join(dir, "webhook-kubeconfig.yaml");
    writeFileSync(
      webhookKubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: bed-webhook",
        "  cluster:",
        `    server: ${webhookUrl}/authenticate`,
        "users:",
        "- name: kube-apiserver",
        "  user: {}",
        "contexts:",
        "- name: webhook",
        "  context: {cluster: bed-webhook, user: kube-apiserver}",
        "current-context: webhook",
        "",
      ].join("\n"),
    );
    say(`webhook on ${webhookUrl}`);

    // ---- kube-apiserver ----
    const adminToken = randomBytes(24).toString("hex");
    const tokenFile = join(dir, "tokens.csv");
    writeFileSync(tokenFile, `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
    // kube-apiserver refuses --secure-port 0: a reserved port, and another should it be taken.
    const apiServerUrl = await startOnFreePorts(1, async ([apiPort]) => {
      const url = `https://127.0.0.1:${apiPort}`;
      await startListening(
        procs,
        [apiPort!],
        () =>
          startProc(procs, {
            supervisor: bins.webhook,
            name: "kube-apiserver",
            cmd: bins.kubeApiserver,
            args: [
              `--etcd-servers=${etcdUrl}`,
              "--bind-address=127.0.0.1",
              `--secure-port=${apiPort}`,
              "--advertise-address=127.0.0.1",
              "--endpoint-reconciler-type=none",
              `--tls-cert-file=${join(pki, "serving.crt")}`,
              `--tls-private-key-file=${join(pki, "serving.key")}`,
              `--token-auth-file=${tokenFile}`,
              `--authentication-token-webhook-config-file=${webhookKubeconfig}`,
              "--authentication-token-webhook-version=v1",
              // No caching of webhook answers: every request is authenticated afresh (and a test
              // that removes an identity or waits for expiry sees the effect at once).
              "--authentication-token-webhook-cache-ttl=0s",
              ...(options.nodeAuth
                ? [`--client-ca-file=${join(pki, "ca.crt")}`, "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction"]
                : ["--authorization-mode=RBAC"]),
              "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
              `--service-account-key-file=${join(pki, "sa.pub")}`,
              `--service-account-signing-key-file=${join(pki, "sa.key")}`,
              "--service-cluster-ip-range=10.0.0.0/24",
              "--profiling=false",
              "--v=0",
              ...(options.apiServerArgs ?? []),
            ],
            logFile: join(dir, "kube-apiserver.log"),
          }),
        () => waitUntil("kube-apiserver /readyz", async () => (await httpsGet(`${url}/readyz`, caPem)).status === 200, 90_000, procs),
      );
      return url;
    });
    say(`kube-apiserver ready on ${apiServerUrl}`);

    // ---- kubeconfigs, kubectl ----
    const kubeconfigs = join(dir, "kubeconfigs");
    mkdirSync(kubeconfigs, { recursive: true });
    const adminKubeconfig = join(kubeconfigs, "admin.yaml");
    writeFileSync(adminKubeconfig, kubeconfigYaml(apiServerUrl, caData, adminToken, clusterName), { mode: 0o600 });
    const kubectlCache = join(dir, "kubectl-cache");

    // ---- fault proxy ----
    proxy = await FaultProxy.start({
      target: apiServerUrl,
      targetCa: caPem,
      tls: { cert: readFileSync(join(pki, "serving.crt")), key: readFileSync(join(pki, "serving.key")) },
    });
    const proxyUrl = proxy.url;
    const adminProxyKubeconfig = join(kubeconfigs, "admin-proxy.yaml");
    writeFileSync(adminProxyKubeconfig, kubeconfigYaml(proxyUrl, caData, adminToken, clusterName), { mode: 0o600 });

    let kcSeq = 0;
    const kubeconfigFor = (token: string, opts: { viaProxy?: boolean; name?: string } = {}) => {
      const file = join(kubeconfigs, `${opts.name ?? "user"}-${++kcSeq}.yaml`);
      writeFileSync(file, kubeconfigYaml(opts.viaProxy ? proxyUrl : apiServerUrl, caData, token, clusterName), { mode: 0o600 });
      return file;
    };
    const kubectl = async (args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> => {
      const kubeconfig = opts.token ? kubeconfigFor(opts.token, { viaProxy: opts.viaProxy }) : opts.viaProxy ? adminProxyKubeconfig : adminKubeconfig;
      const res = await run("kubectl", [`--kubeconfig=${kubeconfig}`, `--cache-dir=${kubectlCache}`, ...args], {
        input: opts.input,
        env: { ...process.env, ...(opts.env ?? {}) },
      });
      if (opts.token) rmSync(kubeconfig, { force: true });
      if (opts.check && res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
      return res;
    };

    // ---- CRDs ----
    if (options.esoCrds !== false || esoBins) {
      const applied = await kubectl(["apply", "--server-side", "--force-conflicts", "-f", esoBins?.crds ?? bins.esoCrds]);
      if (applied.code !== 0) throw new Error(`installing ESO CRDs failed: ${applied.stderr}`);
      const names = applied.stdout
        .split("\n")
        .map((l) => /^(customresourcedefinition\.apiextensions\.k8s\.io\/\S+)/.exec(l)?.[1])
        .filter((x): x is string => Boolean(x));
      const waited = await kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...names]);
      if (waited.code !== 0) throw new Error(`ESO CRDs not Established: ${waited.stderr}`);
      // Established means served; make sure discovery lists the kinds before tests use them.
      await waitUntil(
        "external-secrets.io/v1 in discovery",
        async () => {
          const res = await httpsGet(`${apiServerUrl}/apis/external-secrets.io/v1`, caPem, adminToken);
          return res.status === 200 && res.body.includes('"ExternalSecret"') && res.body.includes('"ClusterSecretStore"');
        },
        30_000,
        procs,
      );
      say(`ESO CRDs established${esoBins ? ` (ESO ${esoBins.version})` : ""}`);
    }

    // ---- RBAC ----
    for (const manifest of options.rbacManifests ?? []) {
      const file = isAbsolute(manifest) ? manifest : join(ROOT, manifest);
      const res = await kubectl(["apply", "-f", file]);
      if (res.code !== 0) throw new Error(`kubectl apply -f ${manifest} failed: ${res.stderr}`);
      // Admission policies are loaded asynchronously: ready when each refuses what it must.
      const policies = policiesIn(file);
      if (policies.length > 0) {
        await waitForPolicies(kubectl, ROOT, policies, options.esoCrds !== false || esoBins !== undefined);
        say(`admission policies of ${manifest} enforced`);
      }
    }

    // ---- External Secrets Operator ----
    let eso: EsoController | undefined;
    if (esoOptions && esoBins) {
      const rbac = await kubectl(["apply", "-f", join(ROOT, ESO_RBAC_MANIFEST)]);
      if (rbac.code !== 0) throw new Error(`kubectl apply -f ${ESO_RBAC_MANIFEST} failed: ${rbac.stderr}`);
      // Its identity: a ServiceAccount token from the TokenRequest API, as a pod would mount.
      const token = await kubectl(["-n", ESO_SERVICE_ACCOUNT.namespace, "create", "token", ESO_SERVICE_ACCOUNT.name, "--duration=48h"]);
      if (token.code !== 0)
        throw new Error(`creating a token for ServiceAccount ${ESO_SERVICE_ACCOUNT.namespace}/${ESO_SERVICE_ACCOUNT.name} failed: ${token.stderr}`);
      const esoKubeconfig = join(kubeconfigs, "eso.yaml");
      writeFileSync(esoKubeconfig, kubeconfigYaml(apiServerUrl, caData, token.stdout.trim(), clusterName), { mode: 0o600 });
      const esoHome = join(dir, "eso-home");
      mkdirSync(esoHome, { recursive: true });
      const logFile = join(dir, "eso.log");
      const proc = startProc(procs, {
        supervisor: bins.webhook,
        name: "eso",
        cmd: esoBins.binary,
        args: esoArgs(esoOptions),
        logFile,
        env: esoEnv(esoOptions, { kubeconfig: esoKubeconfig, home: esoHome, region }),
      });
      const esoStarted = Date.now();
      await waitUntil(
        "the External Secrets Operator controllers to start their workers",
        async () => {
          const started = readFileSync(logFile, "utf8")
            .split("\n")
            .filter((line) => line.includes('"Starting workers"'));
          return ESO_CLIENT_CONTROLLERS.every((c) => started.some((line) => line.includes(`"controller":"${c}"`)));
        },
        60_000,
        procs,
      );
      say(`External Secrets Operator ${esoBins.version} running (${Date.now() - esoStarted} ms)`);
      eso = {
        version: esoBins.version,
        logFile,
        identity: `system:serviceaccount:${ESO_SERVICE_ACCOUNT.namespace}:${ESO_SERVICE_ACCOUNT.name}`,
        log: () => {
          try {
            return readFileSync(logFile, "utf8");
          } catch {
            return "";
          }
        },
        running: () => !proc.exited,
      };
    }
    say("ready");

    const webhookCall = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${webhookUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`webhook ${method} ${path}: ${res.status} ${text}`);
      return text ? (JSON.parse(text) as unknown) : undefined;
    };

    let stopped: Promise<void> | undefined;
    const bed: Bed = {
      clusterName,
      region,
      apiServerUrl,
      proxyUrl,
      proxy,
      caData,
      caPem,
      caFile: join(pki, "ca.crt"),
      adminToken,
      adminKubeconfig,
      identities,
      webhookUrl,
      dir,
      kubectl,
      kubeconfigFor,
      awsEnv(name) {
        const id = identities[name];
        if (!id) throw new Error(`no identity named ${name}`);
        const env: Record<string, string> = {
          AWS_ACCESS_KEY_ID: id.accessKeyId,
          AWS_SECRET_ACCESS_KEY: id.secretAccessKey,
          AWS_REGION: region,
          AWS_DEFAULT_REGION: region,
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        };
        if (id.sessionToken) env.AWS_SESSION_TOKEN = id.sessionToken;
        return env;
      },
      async addIdentities(ids) {
        await webhookCall("POST", "/identities", Object.values(ids));
        Object.assign(identities, ids);
      },
      async decisions() {
        return (await webhookCall("GET", "/decisions")) as Awaited<ReturnType<Bed["decisions"]>>;
      },
      eso,
      async createNamespace(name, labels = {}) {
        const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
        const sa = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: name } };
        await kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: [ns, sa] }), check: true });
      },
      stop() {
        stopped ??= cleanup();
        return stopped;
      },
    };
    return bed;
  } catch (error) {
    const logs = procs.map((p) => `--- ${p.name} (${p.logFile}) ---\n${tail(p.logFile, 15)}`).join("\n");
    await cleanup();
    throw new Error(`test bed did not start: ${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
  }
}
