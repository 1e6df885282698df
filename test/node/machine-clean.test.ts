/**
 * The bed's node changes the machine only while it runs: after stop() — and, after a run that was
 * killed, after the next start and its stop — the hosts file, sysctls, iptables, network
 * interfaces and namespaces, cgroups, mounts, containerd's and the kubelet's state are as they
 * were before. Each test first checks that the running node did change them (so the comparison
 * afterwards can fail).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BED_ECR_HOST } from "../support/bed-env";
import { cgroupHierarchies, HOSTS_MARKER, hostsLines, iptablesChains, mountsUnder, netnsNames, NODE_STATE_DIR, readSysctl } from "../bed/host-journal";
import { ROOT, startBed, type Bed } from "../bed/index";
import { NODE_SYSCTLS, startNode, type BedNode } from "../bed/node";
import { NODE_BRIDGE } from "../bed/node-config";
import { apply, deployment, holdNodeTestLock, NODE_SUPPORT, waitPods } from "./node-support";

function processesOfNode(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(NODE_STATE_DIR) || /containerd-shim|\/kubelet-v|kube-controller-manager-v|kube-scheduler-v/.test(cmd)) out.push(cmd.trim());
    } catch {
      // exited
    }
  }
  return out.sort();
}

/** What the node may change, as one comparable value. */
function machineState() {
  const ipt = spawnSync("iptables-save", [], { encoding: "utf8" }).stdout ?? "";
  return {
    hosts: hostsLines(),
    sysctls: Object.fromEntries(NODE_SYSCTLS.map((k) => [k, readSysctl(k)])),
    iptablesChains: iptablesChains(),
    iptablesRules: ipt.split("\n").filter((l) => l.startsWith("-A ")),
    links: readdirSync("/sys/class/net").sort(),
    netns: netnsNames(),
    paths: Object.fromEntries(["/run/containerd", "/var/lib/cni", "/var/log/containers", "/run/netns", "/opt/containerd"].map((p) => [p, existsSync(p)])),
    kubepodsCgroups: cgroupHierarchies().filter((h) => existsSync(join(h, "kubepods"))),
    mounts: [...mountsUnder(NODE_STATE_DIR), ...mountsUnder("/run/netns"), ...mountsUnder("/run/containerd")],
    nodeDirs: existsSync(NODE_STATE_DIR) ? readdirSync(NODE_STATE_DIR).filter((n) => n.startsWith("node-")) : [],
    processes: processesOfNode(),
  };
}

/** The changes a running node with one pod has made (the test's proof that the comparison can fail). */
function expectNodeChangedMachine(): void {
  const now = machineState();
  expect(now.hosts.some((l) => l.includes(BED_ECR_HOST) && l.endsWith(HOSTS_MARKER))).toBe(true);
  expect(now.links).toContain(NODE_BRIDGE);
  // The kubelet's kernel tunables (it sets them unless protectKernelDefaults, then refuses to start).
  expect(now.sysctls).toMatchObject({ "vm.overcommit_memory": "1", "kernel.panic": "10", "kernel.panic_on_oops": "1" });
  expect(now.netns.length).toBeGreaterThan(0);
  expect(now.kubepodsCgroups.length).toBeGreaterThan(0);
  expect(now.mounts.length).toBeGreaterThan(0);
  expect(now.processes.some((p) => p.includes("containerd-shim"))).toBe(true);
}

let bed: Bed | undefined;
let node: BedNode | undefined;
let releaseLock: (() => void) | undefined;
beforeAll(async () => {
  if (NODE_SUPPORT.ok) releaseLock = await holdNodeTestLock();
}, 1_600_000);
afterAll(() => releaseLock?.());
afterEach(async () => {
  await node?.stop().catch(() => undefined);
  await bed?.stop();
  node = bed = undefined;
});

async function podRunning(b: Bed, n: BedNode, ns: string): Promise<void> {
  await b.kubectl(["create", "namespace", ns], { check: true });
  await b.kubectl(
    ["-n", ns, "create", "secret", "docker-registry", "pull", `--docker-server=${n.registryHost}`, "--docker-username=AWS", `--docker-password=${n.token()}`],
    {
      check: true,
    },
  );
  await apply(b, deployment(ns, "app", n.image, { pullSecret: "pull" }));
  await waitPods(b, { ns, count: 1, what: "the pod running" }, (p) => p.state === "running");
}

describe.skipIf(!NODE_SUPPORT.ok)("the bed's node leaves the machine as it found it", { timeout: 300_000 }, () => {
  it("after stop(): hosts entry, sysctls, iptables, interfaces, network namespaces, cgroups, mounts, containerd state", async () => {
    const before = machineState();
    bed = await startBed({ nodeAuth: true });
    node = await startNode(bed);
    await podRunning(bed, node, "clean-stop");
    expectNodeChangedMachine();
    await node.stop();
    node = undefined;
    expect(machineState()).toEqual(before);
  });

  it("after a killed run: the next start sweeps what the journal says the dead run left", async () => {
    const before = machineState();
    // A bed with a node in another process (npm run testbed -- --node), killed with SIGKILL once
    // a pod runs: its supervised processes die with it; the shims, the containers, the mounts and
    // every host change stay behind.
    const child = spawn("sh", [join(ROOT, "scripts", "testbed.sh"), "--node", "--no-rbac"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const stderr: string[] = [];
    child.stderr.on("data", (c: Buffer) => stderr.push(c.toString()));
    const lines = await new Promise<Record<string, string>>((resolve, reject) => {
      const kv: Record<string, string> = {};
      createInterface({ input: child.stdout }).on("line", (l) => {
        const m = /^([A-Z_]+)=(.*)$/.exec(l);
        if (m) kv[m[1]!] = m[2]!;
        if (kv.NODE_IMAGE_AUTH && kv.KUBECONFIG) resolve(kv);
      });
      child.once("exit", (code) => reject(new Error(`npm run testbed -- --node exited ${code}:\n${stderr.join("")}`)));
    });
    const kubectl = (args: string[], input?: string) => {
      const r = spawnSync("kubectl", [`--kubeconfig=${lines.KUBECONFIG}`, ...args], { encoding: "utf8", input });
      if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    kubectl(["create", "namespace", "killed"]);
    kubectl([
      "-n",
      "killed",
      "create",
      "secret",
      "generic",
      "pull",
      "--type=kubernetes.io/dockerconfigjson",
      `--from-file=.dockerconfigjson=${lines.NODE_IMAGE_AUTH}`,
    ]);
    kubectl(["apply", "-f", "-"], JSON.stringify(deployment("killed", "app", lines.NODE_IMAGE!, { pullSecret: "pull" })));
    for (let i = 0; ; i++) {
      const phase = kubectl(["-n", "killed", "get", "pods", "-l", "app=app", "-o", "jsonpath={.items[*].status.containerStatuses[0].state.running.startedAt}"]);
      if (phase.trim()) break;
      if (i > 240) throw new Error("the killed run's pod never ran");
      await new Promise((r) => setTimeout(r, 250));
    }
    const bedProcess = spawnSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" })
      .stdout.trim()
      .split("\n")[0];
    expect(bedProcess).toMatch(/^\d+$/);
    process.kill(Number(bedProcess), "SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expectNodeChangedMachine();

    // The next start sweeps (its lock's owner is dead), runs, and its stop leaves the machine clean.
    bed = await startBed({ nodeAuth: true });
    node = await startNode(bed);
    const during = machineState();
    expect(during.processes.filter((p) => p.includes("containerd-shim"))).toEqual([]);
    expect(during.nodeDirs).toHaveLength(1);
    await node.stop();
    node = undefined;
    expect(machineState()).toEqual(before);
  });
});
