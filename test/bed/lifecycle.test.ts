// The test bed leaves nothing behind: stop() ends every process and removes its directory, and
// when the process that started a bed is killed outright (SIGKILL, no cleanup code runs), the
// bed's etcd, kube-apiserver and webhook die with it and the next bed sweeps its directory.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/ports";
import { ROOT, startBed } from "./index";

/** Pids of the processes whose command line mentions `needle` (the bed's directory). */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(needle)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("test bed lifecycle", () => {
  it("dies with the process that started it, even on SIGKILL; the next bed sweeps its directory", async () => {
    // `npm run testbed`'s script starts a bed in a separate Node process.
    const child: ChildProcess = spawn("sh", ["scripts/testbed.sh", "--no-rbac"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    try {
      await waitFor("npm run testbed to print KUBECONFIG=", async () => /^MOTO_URL=/m.test(out), 120_000, 100);
    } catch (error) {
      process.kill(-child.pid!, "SIGKILL");
      throw new Error(`${String(error)}\nstdout: ${out}\nstderr: ${err}`, { cause: error });
    }
    const kubeconfig = /^KUBECONFIG=(.*)$/m.exec(out)![1]!;
    const dir = kubeconfig.replace(/\/kubeconfigs\/admin\.yaml$/, "");
    const bedPids = pidsMentioning(dir);
    expect(bedPids.length).toBeGreaterThanOrEqual(6); // 3 supervisors + etcd, webhook, kube-apiserver

    // SIGKILL the Node process only (not its process group): no cleanup code can run.
    const nodePid = Number(
      readdirSync("/proc")
        .filter((e) => /^\d+$/.test(e))
        .find((e) => {
          try {
            return (
              readFileSync(`/proc/${e}/cmdline`, "utf8").includes("testbed.mjs") && readFileSync(`/proc/${e}/stat`, "utf8").split(" ")[3] === String(child.pid)
            );
          } catch {
            return false;
          }
        }),
    );
    expect(nodePid).toBeGreaterThan(0);
    process.kill(nodePid, "SIGKILL");
    await waitFor("every process of the killed bed to exit", async () => pidsMentioning(dir).length === 0, 20_000, 100);
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the shell has exited already
    }
    expect(existsSync(dir)).toBe(true); // nobody cleaned up yet

    const bed = await startBed({ esoCrds: false });
    try {
      expect(existsSync(dir)).toBe(false); // swept: its owner is dead
      expect(pidsMentioning(bed.dir).length).toBeGreaterThanOrEqual(6);
    } finally {
      await bed.stop();
    }
    expect(pidsMentioning(bed.dir)).toEqual([]);
    expect(existsSync(bed.dir)).toBe(false);
  });
});
