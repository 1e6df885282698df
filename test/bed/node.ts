// A real node for the test bed: containerd (CRI, cgroupfs) + runc + a bridge CNI network, the
// real kubelet registered with the bed's kube-apiserver (client certificate from the bed's CA,
// Node authorizer + NodeRestriction), kube-controller-manager and kube-scheduler against the bed,
// and the bed's registry (test/support/registry.ts) under the ECR host name on 127.0.0.1:443
// with TLS from the bed's CA, accepting only the current token. Binaries: scripts/build-node.sh.
//
// The node is machine-wide (port 443, /etc/hosts, sysctls, cgroups): one at a time per machine
// (host-journal.ts holds the lock). Everything it changes on the machine is journaled before it is
// made and undone by stop(), on a failed start, on SIGINT/SIGTERM of the bed's process, and — after
// a killed run — by the next start.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BED_ECR_HOST } from "../support/bed-env";
import { reservePort } from "../support/ports";
import { startRegistry, type Registry } from "../support/registry";
import {
  addHostsLine,
  cgroupHierarchies,
  iptablesChains,
  linkExists,
  netnsNames,
  NODE_STATE_DIR,
  openJournal,
  readSysctl,
  type HostJournal,
} from "./host-journal";
import { ensureBedBinaries, ROOT, type Bed } from "./index";
import { certKubeconfig, cniConflist, containerdConfig, kubeletConfig, NODE_BRIDGE, nodePaths, signCert } from "./node-config";

/** The sysctls the kubelet (and the bridge plugin) set; restored on stop. */
export const NODE_SYSCTLS = ["vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops", "net.ipv4.ip_forward"];
export const NODE_NAME = "bed-node";
/** The image the node can pull (the pause binary under another config: it runs until stopped). */
export const NODE_IMAGE_REPOSITORY = "payment-api";
export const NODE_IMAGE_TAG = "3.0.0";
const SANDBOX_IMAGE_BASE = "localhost/ecr-bed/pause";

export interface NodeOptions {
  /** The registry password accepted at start (user AWS); default: moto's ECR token for the bed's account. */
  token?: string;
  verbose?: boolean;
  /** How long to wait for another node on the machine to stop (default 10 minutes). */
  lockWaitMs?: number;
}

export interface BedNode {
  name: string;
  /** `<ECR host>/payment-api:3.0.0`: pullable with the current token. */
  image: string;
  registryHost: string;
  registry: Registry;
  /** The token the registry accepts now. */
  token(): string;
  /** From now on the registry accepts only `token` (the old one is refused: "expiry"). */
  setToken(token: string): Promise<void>;
  /** A dockerconfigjson for the registry host with `token` (default: the current one). */
  dockerconfigjson(token?: string): string;
  /** Path of a dockerconfigjson that pulls `image` now (rewritten by setToken). */
  authFile: string;
  dir: string;
  logs: { kubelet: string; containerd: string; controllerManager: string; scheduler: string };
  /** Milliseconds from startNode to the Node being Ready. */
  startMs: number;
  stop(): Promise<void>;
}

/** Whether this machine can run a node at all (kernel facts only: anything else missing is a failure). */
export function nodeSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: `the node needs Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "the node needs root (containerd, runc, cgroups, mounts)" };
  if (cgroupHierarchies().length === 0 && !existsSync("/sys/fs/cgroup/cgroup.controllers"))
    return { ok: false, reason: "no cgroup file system under /sys/fs/cgroup" };
  let fs = "";
  try {
    fs = readFileSync("/proc/filesystems", "utf8");
  } catch {
    // treated as missing
  }
  if (!/\toverlay$/m.test(fs)) return { ok: false, reason: "the kernel has no overlay file system (containerd's overlayfs snapshotter)" };
  return { ok: true };
}

export interface NodeBinaries {
  kubelet: string;
  controllerManager: string;
  scheduler: string;
  /** `DIR:TAG` of the pause image's OCI layout. */
  pauseOci: string;
  supervisor: string;
}

export function ensureNodeBinaries(): NodeBinaries {
  const res = spawnSync("sh", [join(ROOT, "scripts", "build-node.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (res.status !== 0) throw new Error(`scripts/build-node.sh failed (exit ${res.status}); see its messages above`);
  const kv: Record<string, string> = {};
  for (const line of res.stdout.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!;
  }
  const need = (k: string) => {
    if (!kv[k]) throw new Error(`scripts/build-node.sh printed no ${k}= line`);
    return kv[k];
  };
  for (const [tool, pkg] of [
    ["/usr/bin/containerd", "containerd"],
    ["/usr/sbin/runc", "runc"],
    ["/usr/lib/cni/bridge", "containernetworking-plugins"],
    ["/usr/bin/ctr", "containerd"],
  ] as const) {
    if (!existsSync(tool)) throw new Error(`${tool} not found (Debian package ${pkg}); run scripts/ensure-test-deps.sh`);
  }
  return {
    kubelet: need("KUBELET"),
    controllerManager: need("KUBE_CONTROLLER_MANAGER"),
    scheduler: need("KUBE_SCHEDULER"),
    pauseOci: need("PAUSE_OCI"),
    supervisor: ensureBedBinaries().webhook,
  };
}

// ------------------------------------------------------------------------------------------

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: boolean;
  code: number | null;
}

function startProc(supervisor: string, name: string, cmd: string, args: string[], log: string): Proc {
  const out = createWriteStream(log);
  const child = spawn(supervisor, ["supervise", "--", cmd, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const p: Proc = { name, child, log, exited: false, code: null };
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  child.stdin.on("error", () => undefined);
  child.on("exit", (code) => {
    p.exited = true;
    p.code = code;
  });
  child.on("close", () => out.end());
  return p;
}

function stopProc(p: Proc, timeoutMs = 10_000): Promise<void> {
  if (p.exited) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
    p.child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    p.child.kill("SIGTERM");
  });
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number, procs: Proc[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.exited);
    if (dead) throw new Error(`${dead.name} exited (code ${dead.code}) while waiting for ${what}; log ${dead.log}:\n${tail(dead.log)}`);
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The app image: the pause image's layer under its own config (another digest than the sandbox's). */
function writeAppLayout(pauseOci: string, dir: string): string {
  const [src, tag] = [pauseOci.slice(0, pauseOci.lastIndexOf(":")), pauseOci.slice(pauseOci.lastIndexOf(":") + 1)];
  const index = JSON.parse(readFileSync(join(src, "index.json"), "utf8")) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const desc = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  if (!desc) throw new Error(`${src} has no image tagged ${tag}`);
  const blob = (d: string) => join(src, "blobs", "sha256", d.replace(/^sha256:/, ""));
  const manifest = JSON.parse(readFileSync(blob(desc.digest), "utf8")) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8")) as { config: Record<string, unknown> };
  config.config.Labels = { "org.opencontainers.image.title": NODE_IMAGE_REPOSITORY };
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const put = (data: string) => {
    const d = createHash("sha256").update(data).digest("hex");
    writeFileSync(join(blobs, d), data);
    return { digest: `sha256:${d}`, size: Buffer.byteLength(data) };
  };
  for (const l of manifest.layers) copyFileSync(blob(l.digest), join(blobs, l.digest.replace(/^sha256:/, "")));
  const cfg = put(JSON.stringify(config));
  const man = put(JSON.stringify({ ...manifest, config: { ...manifest.config, ...cfg } }));
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...man, annotations: { "org.opencontainers.image.ref.name": NODE_IMAGE_TAG } }],
    }),
  );
  return `oci:${dir}:${NODE_IMAGE_TAG}`;
}

function dockerconfigjson(host: string, token: string): string {
  return JSON.stringify({ auths: { [host]: { username: "AWS", password: token, auth: Buffer.from(`AWS:${token}`).toString("base64") } } });
}

/** Records the state to restore, then makes each change; see host-journal.ts for the undo. */
function journalHostState(j: HostJournal, dir: string, socket: string): void {
  for (const key of NODE_SYSCTLS) {
    const value = readSysctl(key);
    if (value !== undefined) j.record({ kind: "sysctl", key, value });
  }
  j.record({ kind: "hosts" });
  j.record({ kind: "iptables", before: iptablesChains() });
  // containerd 1.6 keeps shim sockets and runc state under /run/containerd whatever its config says;
  // libcni caches results under /var/lib/cni; the kubelet links container logs in /var/log/containers.
  for (const d of ["/run/containerd", "/var/lib/cni"]) if (!existsSync(d)) j.record({ kind: "dir", path: d });
  j.record({ kind: "links", dir: "/var/log/containers", target: dir, dirExisted: existsSync("/var/log/containers") });
  j.record({ kind: "dir", path: dir });
  if (linkExists(NODE_BRIDGE)) throw new Error(`network interface ${NODE_BRIDGE} exists already (not this bed's: it would be removed on stop)`);
  j.record({ kind: "link", name: NODE_BRIDGE });
  j.record({ kind: "netns", before: netnsNames(), dirExisted: existsSync("/run/netns") });
  if (cgroupHierarchies().some((h) => existsSync(join(h, "kubepods"))))
    throw new Error("cgroup kubepods exists already (another kubelet on this machine?); the bed's node would remove it");
  j.record({ kind: "cgroup", name: "kubepods" });
  j.record({ kind: "processes", match: socket });
}

export async function startNode(bed: Bed, options: NodeOptions = {}): Promise<BedNode> {
  const t0 = Date.now();
  const say = (m: string) => {
    if (options.verbose) process.stderr.write(`testbed node: ${m} (+${Date.now() - t0} ms)\n`);
  };
  const support = nodeSupport();
  if (!support.ok) throw new Error(`this machine cannot run the bed's node: ${support.reason}`);
  const bins = ensureNodeBinaries();
  const journal = await openJournal(options.lockWaitMs ?? 600_000, say);
  const dir = join(NODE_STATE_DIR, `node-${process.pid}-${Date.now()}`);
  const p = nodePaths(dir);
  const procs: Proc[] = [];
  let registry: Registry | undefined;
  let token = options.token ?? "123456789012-auth-token";
  const authFile = join(dir, "image-auth.json");

  let stopping: Promise<void> | undefined;
  const teardown = () => {
    stopping ??= (async () => {
      const order = ["kube-scheduler", "kube-controller-manager", "kubelet", "containerd"];
      for (const name of order) {
        const proc = procs.find((x) => x.name === name);
        if (proc) await stopProc(proc);
      }
      await registry?.stop().catch(() => undefined);
      const problems = journal.undo();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      if (problems.length) throw new Error(`the bed's node could not undo every change:\n  ${problems.join("\n  ")}`);
    })();
    return stopping;
  };
  // A signal to a test process (Ctrl-C) must not leave the machine changed.
  const onSignal = (sig: NodeJS.Signals) => {
    void teardown()
      .catch((e: Error) => process.stderr.write(`${e.message}\n`))
      .finally(() => process.kill(process.pid, sig));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    journalHostState(journal, dir, p.containerdSocket);
    for (const d of [p.cniConfDir, join(p.certsDir, BED_ECR_HOST), p.kubeletDir, p.podLogsDir, join(dir, "pki")]) mkdirSync(d, { recursive: true });
    const pki = join(bed.dir, "pki");
    const ca = { crt: join(pki, "ca.crt"), key: join(pki, "ca.key") };

    // ---- the registry under the ECR host name, on 127.0.0.1:443 ----
    addHostsLine(`127.0.0.1 ${BED_ECR_HOST}`);
    const serving = signCert(join(dir, "pki"), "registry", ca, { cn: BED_ECR_HOST, dnsNames: [BED_ECR_HOST], ips: ["127.0.0.1"], usage: "server" });
    registry = await startRegistry({
      users: [{ username: "AWS", password: token }],
      addr: "127.0.0.1:443",
      host: BED_ECR_HOST,
      tls: { ...serving, caFile: ca.crt },
    });
    await registry.push(writeAppLayout(bins.pauseOci, join(dir, "app-oci")), `${NODE_IMAGE_REPOSITORY}:${NODE_IMAGE_TAG}`);
    copyFileSync(ca.crt, join(p.certsDir, BED_ECR_HOST, "ca.crt"));
    writeFileSync(authFile, dockerconfigjson(BED_ECR_HOST, token), { mode: 0o600 });
    say(`registry ${BED_ECR_HOST} on 127.0.0.1:443`);

    // ---- containerd, and the sandbox image imported (nothing pulled from outside) ----
    const tag = bins.pauseOci.slice(bins.pauseOci.lastIndexOf(":") + 1);
    const sandboxImage = `${SANDBOX_IMAGE_BASE}:${tag}`;
    const containerdToml = join(dir, "containerd.toml");
    writeFileSync(containerdToml, containerdConfig(p, sandboxImage));
    writeFileSync(join(p.cniConfDir, "10-ecr-bed.conflist"), cniConflist(p));
    const containerd = startProc(bins.supervisor, "containerd", "/usr/bin/containerd", ["--config", containerdToml], join(dir, "containerd.log"));
    procs.push(containerd);
    const ctr = (...args: string[]) => spawnSync("/usr/bin/ctr", ["--address", p.containerdSocket, "--namespace", "k8s.io", ...args], { encoding: "utf8" });
    await waitFor("containerd", () => ctr("version").status === 0, 30_000, procs);
    const pauseTar = join(dir, "pause.tar");
    const pauseDir = bins.pauseOci.slice(0, bins.pauseOci.lastIndexOf(":"));
    const tarred = spawnSync("tar", ["-C", pauseDir, "-cf", pauseTar, "."], { encoding: "utf8" });
    if (tarred.status !== 0) throw new Error(`tar of the pause image failed: ${tarred.stderr}`);
    const imported = ctr("images", "import", "--base-name", SANDBOX_IMAGE_BASE, pauseTar);
    if (imported.status !== 0) throw new Error(`ctr images import (pause) failed: ${imported.stderr}`);
    if (!ctr("images", "ls", "-q").stdout.split("\n").includes(sandboxImage))
      throw new Error(`ctr images import did not create ${sandboxImage}: ${imported.stdout} ${imported.stderr}`);
    say("containerd running, sandbox image imported");

    // ---- kubelet ----
    const client = signCert(join(dir, "pki"), "kubelet-client", ca, { cn: `system:node:${NODE_NAME}`, org: "system:nodes", usage: "client" });
    const kubeletKubeconfig = join(dir, "kubelet.kubeconfig");
    writeFileSync(kubeletKubeconfig, certKubeconfig(bed.apiServerUrl, ca.crt, client.certFile, client.keyFile, `system:node:${NODE_NAME}`));
    const kubeletYaml = join(dir, "kubelet-config.json");
    writeFileSync(kubeletYaml, kubeletConfig(p, { caFile: ca.crt, port: await reservePort(), healthzPort: await reservePort() }));
    const kubelet = startProc(
      bins.supervisor,
      "kubelet",
      bins.kubelet,
      [
        `--config=${kubeletYaml}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${p.kubeletDir}`,
        `--cert-dir=${join(p.kubeletDir, "pki")}`,
        `--hostname-override=${NODE_NAME}`,
        "--v=2",
      ],
      join(dir, "kubelet.log"),
    );
    procs.push(kubelet);

    // ---- controller-manager and scheduler (as admin; no leader election, no serving port) ----
    const common = [`--kubeconfig=${bed.adminKubeconfig}`, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"];
    procs.push(
      startProc(
        bins.supervisor,
        "kube-controller-manager",
        bins.controllerManager,
        [...common, "--controllers=*,-serviceaccount-token", `--root-ca-file=${ca.crt}`, "--use-service-account-credentials=false"],
        join(dir, "kube-controller-manager.log"),
      ),
      startProc(bins.supervisor, "kube-scheduler", bins.scheduler, common, join(dir, "kube-scheduler.log")),
    );

    await waitFor(
      `Node ${NODE_NAME} Ready`,
      async () => {
        const r = await bed.kubectl(["get", "node", NODE_NAME, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
        return r.code === 0 && r.stdout.trim() === "True";
      },
      120_000,
      procs,
    );
    const startMs = Date.now() - t0;
    say(`node ${NODE_NAME} Ready`);

    return {
      name: NODE_NAME,
      image: `${BED_ECR_HOST}/${NODE_IMAGE_REPOSITORY}:${NODE_IMAGE_TAG}`,
      registryHost: BED_ECR_HOST,
      registry,
      token: () => token,
      async setToken(next) {
        await registry!.setUsers([{ username: "AWS", password: next }]);
        token = next;
        writeFileSync(authFile, dockerconfigjson(BED_ECR_HOST, token), { mode: 0o600 });
      },
      dockerconfigjson: (t = token) => dockerconfigjson(BED_ECR_HOST, t),
      authFile,
      dir,
      logs: {
        kubelet: kubelet.log,
        containerd: containerd.log,
        controllerManager: join(dir, "kube-controller-manager.log"),
        scheduler: join(dir, "kube-scheduler.log"),
      },
      startMs,
      stop: teardown,
    };
  } catch (error) {
    const logs = procs.map((x) => `--- ${x.name} (${x.log}) ---\n${tail(x.log, 15)}`).join("\n");
    await teardown().catch((e: Error) => process.stderr.write(`${e.message}\n`));
    throw new Error(`the bed's node did not start: ${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
  }
}
