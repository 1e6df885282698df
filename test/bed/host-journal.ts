// The journal of what the bed's node (test/bed/node.ts) changes on the machine, and its undo.
// Every change is written to the journal (one JSON file in a machine-wide directory) *before* it
// is made, so a stop, a Ctrl-C, a failed start — and, when the process was killed, the next start
// (sweepStaleNode) — can undo exactly what was done, in reverse order. The node is machine-wide
// (port 443, /etc/hosts, sysctls): one owner at a time, by an atomic mkdir lock with its pid.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Machine-wide home of the node's lock and journal (not /run: /etc/hosts outlives a reboot). */
export const NODE_STATE_DIR = process.env.ECR_BED_NODE_STATE ?? "/var/tmp/ecr-bed-node";
const LOCK_DIR = join(NODE_STATE_DIR, "lock");
const JOURNAL = join(NODE_STATE_DIR, "journal.json");
/** Marks the /etc/hosts lines the bed adds. */
export const HOSTS_MARKER = "# ecr-token-rotator test bed node";
const HOSTS = process.env.ECR_BED_HOSTS_FILE ?? "/etc/hosts";

/** One change to the machine, described well enough to undo it without the process that made it. */
export type HostChange =
  /** Lines of /etc/hosts ending with HOSTS_MARKER. */
  | { kind: "hosts" }
  /** A sysctl and the value it had before. */
  | { kind: "sysctl"; key: string; value: string }
  /** A directory the bed created (or owns): everything mounted under it is unmounted, then it is removed. */
  | { kind: "dir"; path: string }
  /** Network namespaces under /run/netns that were not there before (containerd's pod sandboxes). */
  | { kind: "netns"; before: string[]; dirExisted: boolean }
  /** A network interface the bed's CNI creates (the bridge; its veths go with it). */
  | { kind: "link"; name: string }
  /** iptables/ip6tables chains that existed before, per "tool:table"; new KUBE- and CNI- chains go. */
  | { kind: "iptables"; before: Record<string, string[]> }
  /** A cgroup (e.g. "kubepods") under every hierarchy that did not have it: processes killed, removed. */
  | { kind: "cgroup"; name: string }
  /** Processes whose command line contains `match` (containerd's shims for the bed's socket). */
  | { kind: "processes"; match: string }
  /** Symlinks in `dir` pointing under `target` (the kubelet's /var/log/containers links). */
  | { kind: "links"; dir: string; target: string; dirExisted: boolean };

interface JournalFile {
  owner: number;
  started: string;
  changes: HostChange[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function readJournal(): JournalFile | undefined {
  try {
    return JSON.parse(readFileSync(JOURNAL, "utf8")) as JournalFile;
  } catch {
    return undefined;
  }
}

function writeJournal(j: JournalFile): void {
  const tmp = `${JOURNAL}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(j, null, 1));
  renameSync(tmp, JOURNAL);
}

function lockOwner(): number | undefined {
  try {
    const pid = Number(readFileSync(join(LOCK_DIR, "pid"), "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A machine-wide lock: the directory `path` holding the owner's pid (mkdir is atomic). Waits up
 * to `waitMs` for a live owner; a dead owner's lock is taken over after `onStale` ran. Returns the
 * release function.
 */
export async function acquireDirLock(
  path: string,
  waitMs: number,
  say: (m: string) => void = () => undefined,
  onStale: () => void = () => undefined,
): Promise<() => void> {
  mkdirSync(join(path, ".."), { recursive: true });
  const deadline = Date.now() + waitMs;
  let told = false;
  const owner = () => {
    try {
      const pid = Number(readFileSync(join(path, "pid"), "utf8"));
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, "pid"), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const pid = owner();
    if (pid === undefined) {
      // Being created right now, or left without its pid (killed between the two steps).
      try {
        if (Date.now() - statSync(path).mtimeMs > 10_000) rmSync(path, { recursive: true, force: true });
      } catch {
        // removed meanwhile
      }
    } else if (!alive(pid)) {
      onStale();
      rmSync(path, { recursive: true, force: true });
      continue;
    } else if (Date.now() > deadline) {
      throw new Error(`${path} is held by pid ${pid} (still running after ${Math.round(waitMs / 1000)} s)`);
    } else if (!told) {
      told = true;
      say(`waiting for pid ${pid} to release ${path}`);
    }
    await sleep(500);
  }
}

export interface HostJournal {
  /** Writes `change` to the journal (call before making the change). */
  record(change: HostChange): void;
  /** Undoes every recorded change (reverse order), empties the journal and releases the lock. */
  undo(): string[];
}

/**
 * Takes the machine-wide node lock (waiting up to `waitMs` for a live owner; a dead owner's
 * journal is swept first) and opens an empty journal.
 */
export async function openJournal(waitMs: number, say: (m: string) => void = () => undefined): Promise<HostJournal> {
  mkdirSync(NODE_STATE_DIR, { recursive: true });
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = lockOwner();
    if (owner === undefined) {
      // Being created right now, or a lock without its pid (killed between the two steps).
      const age = Date.now() - statSync(LOCK_DIR).mtimeMs;
      if (age > 10_000) rmSync(LOCK_DIR, { recursive: true, force: true });
    } else if (!alive(owner)) {
      say(`sweeping what a killed node bed (pid ${owner}) left on the machine`);
      sweepStaleNode();
      continue;
    } else if (Date.now() > deadline) {
      throw new Error(`another test bed node (pid ${owner}) holds ${LOCK_DIR}; the node is machine-wide, one at a time`);
    } else if (!told) {
      told = true;
      say(`waiting for the node of pid ${owner} to stop (one node per machine)`);
    }
    await sleep(500);
  }
  const journal: JournalFile = { owner: process.pid, started: new Date().toISOString(), changes: [] };
  writeJournal(journal);
  return {
    record(change) {
      journal.changes.push(change);
      writeJournal(journal);
    },
    undo() {
      const problems = undoChanges(journal.changes);
      journal.changes = [];
      writeJournal(journal);
      rmSync(LOCK_DIR, { recursive: true, force: true });
      return problems;
    },
  };
}

/** Undoes the journal of a dead owner (or of no owner) and removes its lock. */
export function sweepStaleNode(): string[] {
  const owner = lockOwner();
  if (owner !== undefined && owner !== process.pid && alive(owner)) return [];
  const j = readJournal();
  const problems = j ? undoChanges(j.changes) : [];
  if (j) writeJournal({ ...j, changes: [] });
  rmSync(LOCK_DIR, { recursive: true, force: true });
  return problems;
}

// ------------------------------------------------------------------------------------------
// reading the machine's state (also used by the test that the bed leaves the machine as found)

export function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(join("/proc/sys", key.replaceAll(".", "/")), "utf8").trim();
  } catch {
    return undefined;
  }
}

function sh(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { ok: r.status === 0, out: r.stdout ?? "", err: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

export const IPTABLES_TABLES = ["filter", "nat", "mangle"] as const;
const IPT_TOOLS = ["iptables", "ip6tables"] as const;

/**
 * Chains per "tool:table", from iptables-save (which, unlike `iptables -S`, does not create the
 * nf_tables table it reads); tables that do not exist are left out.
 */
export function iptablesChains(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const tool of IPT_TOOLS) {
    const r = sh(`${tool}-save`, []);
    if (!r.ok) continue;
    let table = "";
    for (const line of r.out.split("\n")) {
      const t = /^\*(\S+)/.exec(line)?.[1];
      if (t) {
        table = t;
        if ((IPTABLES_TABLES as readonly string[]).includes(t)) out[`${tool}:${t}`] = [];
        continue;
      }
      const chain = /^:(\S+)/.exec(line)?.[1];
      if (chain && out[`${tool}:${table}`]) out[`${tool}:${table}`]!.push(chain);
    }
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

/** Mount points (deepest first) at or under `prefix`. */
export function mountsUnder(prefix: string): string[] {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => Boolean(p))
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === prefix || p.startsWith(`${prefix}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export function netnsNames(): string[] {
  try {
    return readdirSync("/run/netns").sort();
  } catch {
    return [];
  }
}

export function linkExists(name: string): boolean {
  return existsSync(join("/sys/class/net", name));
}

export function cgroupHierarchies(): string[] {
  try {
    return readdirSync("/sys/fs/cgroup")
      .map((n) => join("/sys/fs/cgroup", n))
      .filter((p) => existsSync(join(p, "cgroup.procs")));
  } catch {
    return [];
  }
}

export function hostsLines(): string[] {
  try {
    return readFileSync(HOSTS, "utf8").split("\n");
  } catch {
    return [];
  }
}

/** Appends `line HOSTS_MARKER` to /etc/hosts (in place: the file may be a bind mount). */
export function addHostsLine(line: string): void {
  const text = readFileSync(HOSTS, "utf8");
  writeFileSync(HOSTS, `${text}${text.endsWith("\n") || text === "" ? "" : "\n"}${line} ${HOSTS_MARKER}\n`);
}

// ------------------------------------------------------------------------------------------
// undo

function killProcesses(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

function pidsMatching(match: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(join("/proc", name, "cmdline"), "utf8").includes(match)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Every cgroup directory of `root`, deepest first. */
function cgroupTree(root: string): string[] {
  const dirs: string[] = [];
  const walk = (d: string) => {
    dirs.push(d);
    let entries: string[];
    try {
      entries = readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(d, e));
  };
  if (existsSync(root)) walk(root);
  return dirs.reverse();
}

function cgroupPids(dirs: string[]): number[] {
  const pids: number[] = [];
  for (const d of dirs) {
    try {
      for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (/^\d+$/.test(l)) pids.push(Number(l));
    } catch {
      // removed meanwhile
    }
  }
  return pids;
}

function unmountAll(points: string[], problems: string[]): void {
  for (const p of points) {
    const r = sh("umount", ["-l", p]);
    if (!r.ok && mountsUnder(p).includes(p)) problems.push(`umount ${p}: ${r.err.trim()}`);
  }
}

function undoIptables(before: Record<string, string[]>, problems: string[]): void {
  const now = iptablesChains();
  for (const [key, chains] of Object.entries(now)) {
    const [tool, table] = key.split(":") as [string, string];
    const had = new Set(before[key] ?? []);
    const added = chains.filter((c) => !had.has(c) && /^(KUBE-|CNI-)/.test(c));
    if (added.length === 0) continue;
    const rules = sh(tool, ["-w", "5", "-t", table, "-S"]).out.split("\n");
    // Rules elsewhere that jump to a chain being removed (e.g. INPUT -j KUBE-FIREWALL).
    for (const rule of rules) {
      const m = /^-A (\S+) (.*)$/.exec(rule);
      if (!m || added.includes(m[1]!)) continue;
      if (!added.some((c) => rule.includes(`-j ${c}`))) continue;
      const r = spawnSync("sh", ["-c", `${tool} -w 5 -t ${table} -D ${m[1]} ${m[2]}`], { encoding: "utf8" });
      if (r.status !== 0) problems.push(`${tool} -t ${table} -D ${m[1]} ${m[2]}: ${r.stderr.trim()}`);
    }
    for (const c of added) sh(tool, ["-w", "5", "-t", table, "-F", c]);
    for (const c of added) {
      const r = sh(tool, ["-w", "5", "-t", table, "-X", c]);
      if (!r.ok) problems.push(`${tool} -t ${table} -X ${c}: ${r.err.trim()}`);
    }
  }
  // Tables that did not exist before and are empty now (iptables-nft creates a table by touching
  // it): removed with nft when it is installed.
  const after = iptablesChains();
  const rules = (tool: string) => sh(`${tool}-save`, []).out;
  for (const key of Object.keys(after).filter((k) => !(k in before))) {
    const [tool, table] = key.split(":") as [string, string];
    const section = rules(tool).split(`*${table}\n`)[1]?.split("COMMIT")[0] ?? "";
    if (/^-A /m.test(section)) {
      problems.push(`${tool} table ${table} did not exist before and now has rules`);
      continue;
    }
    const r = sh("nft", ["delete", "table", tool === "iptables" ? "ip" : "ip6", table]);
    if (!r.ok) problems.push(`${tool} table ${table} did not exist before (empty now; nft delete table failed: ${r.err.trim()})`);
  }
}

function undoOne(change: HostChange, problems: string[]): void {
  switch (change.kind) {
    case "processes":
      killProcesses(pidsMatching(change.match));
      return;
    case "cgroup": {
      const dirs = cgroupHierarchies().flatMap((h) => cgroupTree(join(h, change.name)));
      // Containers outlive their shims: kill what still runs in the node's cgroups, then remove them.
      for (let i = 0; i < 20 && cgroupPids(dirs).length > 0; i++) {
        killProcesses(cgroupPids(dirs));
        spawnSync("sleep", ["0.1"]);
      }
      for (const d of dirs) {
        for (let i = 0; i < 20; i++) {
          try {
            rmdirSync(d);
            break;
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === "ENOENT") break;
            if (i === 19) problems.push(`rmdir ${d}: ${code}`);
            else spawnSync("sleep", ["0.1"]);
          }
        }
      }
      return;
    }
    case "dir":
      unmountAll(mountsUnder(change.path), problems);
      try {
        rmSync(change.path, { recursive: true, force: true });
      } catch (error) {
        problems.push(`rm -rf ${change.path}: ${(error as Error).message}`);
      }
      return;
    case "netns": {
      const had = new Set(change.before);
      for (const n of netnsNames().filter((x) => !had.has(x))) {
        const p = join("/run/netns", n);
        unmountAll(mountsUnder(p), problems);
        try {
          unlinkSync(p);
        } catch (error) {
          problems.push(`rm ${p}: ${(error as Error).message}`);
        }
      }
      if (!change.dirExisted && existsSync("/run/netns")) {
        unmountAll(mountsUnder("/run/netns"), problems);
        try {
          rmdirSync("/run/netns");
        } catch (error) {
          problems.push(`rmdir /run/netns: ${(error as Error).message}`);
        }
      }
      return;
    }
    case "link": {
      if (!linkExists(change.name)) return;
      const ports = sh("ip", ["-o", "link", "show", "master", change.name]).out.split("\n");
      for (const port of ports) {
        const name = /^\d+: ([^:@]+)/.exec(port)?.[1];
        if (name) sh("ip", ["link", "delete", name]);
      }
      const r = sh("ip", ["link", "delete", change.name]);
      if (!r.ok && linkExists(change.name)) problems.push(`ip link delete ${change.name}: ${r.err.trim()}`);
      return;
    }
    case "iptables":
      undoIptables(change.before, problems);
      return;
    case "sysctl": {
      if (readSysctl(change.key) === change.value) return;
      try {
        writeFileSync(join("/proc/sys", change.key.replaceAll(".", "/")), change.value);
      } catch (error) {
        problems.push(`sysctl ${change.key}=${change.value}: ${(error as Error).message}`);
      }
      return;
    }
    case "hosts": {
      const lines = hostsLines();
      const kept = lines.filter((l) => !l.endsWith(HOSTS_MARKER));
      if (kept.length !== lines.length) writeFileSync(HOSTS, kept.join("\n"));
      return;
    }
    case "links": {
      let names: string[];
      try {
        names = readdirSync(change.dir);
      } catch {
        return;
      }
      for (const n of names) {
        const p = join(change.dir, n);
        try {
          if (readlinkSync(p).startsWith(change.target)) unlinkSync(p);
        } catch {
          // not a link, or gone
        }
      }
      if (!change.dirExisted) {
        try {
          rmdirSync(change.dir);
        } catch {
          problems.push(`rmdir ${change.dir}: not empty (something else wrote there)`);
        }
      }
      return;
    }
  }
}

/** Undoes `changes` last-first; returns what could not be undone (empty when all went). */
export function undoChanges(changes: HostChange[]): string[] {
  const problems: string[] = [];
  for (const change of [...changes].reverse()) {
    try {
      undoOne(change, problems);
    } catch (error) {
      problems.push(`${change.kind}: ${(error as Error).message}`);
    }
  }
  return problems;
}
