// Configuration files of the bed's node (test/bed/node.ts): containerd's config, the CNI network,
// the kubelet's configuration and kubeconfig, and certificates signed by the bed's CA. Pure
// writers: every path they name lives under the node's own directory.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface NodePaths {
  dir: string;
  containerdSocket: string;
  cniConfDir: string;
  certsDir: string;
  kubeletDir: string;
  podLogsDir: string;
}

export function nodePaths(dir: string): NodePaths {
  return {
    dir,
    containerdSocket: join(dir, "containerd", "containerd.sock"),
    cniConfDir: join(dir, "cni", "net.d"),
    certsDir: join(dir, "certs.d"),
    kubeletDir: join(dir, "kubelet"),
    podLogsDir: join(dir, "pod-logs"),
  };
}

/** The name of the node's CNI bridge (its own, so the undo removes exactly it). */
export const NODE_BRIDGE = "ecrbed0";
export const NODE_POD_SUBNET = "10.88.0.0/24";

/**
 * containerd 1.6 (config version 2): CRI with the cgroupfs driver and runc; its own root, state
 * and sockets; `restrict_oom_score_adj` (this VM's root lacks CAP_SYS_RESOURCE, without it every
 * sandbox fails with "can't get final child's PID from pipe"); registry TLS from certs.d/<host>/ca.crt
 * (containerd 1.6 ignores a top-level `ca` in hosts.toml); the "opt" plugin (which creates
 * /opt/containerd) disabled.
 */
export function containerdConfig(p: NodePaths, sandboxImage: string): string {
  const sock = p.containerdSocket;
  const cri = '[plugins."io.containerd.grpc.v1.cri"]';
  return [
    "version = 2",
    `root = "${join(p.dir, "containerd", "root")}"`,
    `state = "${join(p.dir, "containerd", "state")}"`,
    'disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]',
    "[grpc]",
    `  address = "${sock}"`,
    "[ttrpc]",
    `  address = "${sock}.ttrpc"`,
    "[debug]",
    `  address = "${sock}.debug"`,
    "[metrics]",
    '  address = ""',
    cri,
    `  sandbox_image = "${sandboxImage}"`,
    "  restrict_oom_score_adj = true",
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `${cri.slice(0, -1)}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `${cri.slice(0, -1)}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `${cri.slice(0, -1)}.containerd.runtimes.runc.options]`,
    "  SystemdCgroup = false",
    `${cri.slice(0, -1)}.cni]`,
    '  bin_dir = "/usr/lib/cni"',
    `  conf_dir = "${p.cniConfDir}"`,
    `${cri.slice(0, -1)}.registry]`,
    `  config_path = "${p.certsDir}"`,
    "",
  ].join("\n");
}

/** A node-local bridge without masquerade (pods get addresses on it; nothing leaves the machine). */
export function cniConflist(p: NodePaths): string {
  return JSON.stringify({
    cniVersion: "0.4.0",
    name: "ecr-bed",
    plugins: [
      {
        type: "bridge",
        bridge: NODE_BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: "host-local", ranges: [[{ subnet: NODE_POD_SUBNET }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(p.dir, "cni", "ipam") },
      },
    ],
  });
}

/** KubeletConfiguration: x509 clients only, cgroupfs, everything it writes under the node's directory. */
export function kubeletConfig(p: NodePaths, o: { caFile: string; port: number; healthzPort: number }): string {
  return JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: "127.0.0.1",
    port: o.port,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: o.healthzPort,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: o.caFile } },
    authorization: { mode: "AlwaysAllow" },
    cgroupDriver: "cgroupfs",
    containerRuntimeEndpoint: `unix://${p.containerdSocket}`,
    failSwapOn: false,
    failCgroupV1: false,
    podLogsDir: p.podLogsDir,
    volumePluginDir: join(p.kubeletDir, "volume-plugins"),
    // The machine is shared and its disk may be fuller than a node's defaults allow.
    evictionHard: { "memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    resolvConf: "/etc/resolv.conf",
    clusterDomain: "cluster.local",
    registerNode: true,
  });
}

/** A kubeconfig with a client certificate (files). */
export function certKubeconfig(server: string, caFile: string, certFile: string, keyFile: string, user: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "bed", cluster: { server, "certificate-authority": caFile } }],
    users: [{ name: user, user: { "client-certificate": certFile, "client-key": keyFile } }],
    contexts: [{ name: "bed", context: { cluster: "bed", user } }],
    "current-context": "bed",
  });
}

/**
 * A key and a certificate signed by the CA (`caCrt`/`caKey`, PEM files) into `dir/name.{key,crt}`:
 * a client certificate (subject CN/O) or, with `dnsNames`/`ips`, a server certificate.
 */
export function signCert(
  dir: string,
  name: string,
  ca: { crt: string; key: string },
  o: { cn: string; org?: string; dnsNames?: string[]; ips?: string[]; usage: "client" | "server" },
): { certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  const san = [...(o.dnsNames ?? []).map((d) => `DNS:${d}`), ...(o.ips ?? []).map((i) => `IP:${i}`)];
  const lines = [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${o.usage === "client" ? "clientAuth" : "serverAuth"}`,
    ...(san.length ? [`subjectAltName=${san.join(",")}`] : []),
  ];
  execFileSync("sh", ["-c", `printf '%s\\n' "$@" > '${ext}'`, "sh", ...lines]);
  const subj = `${o.org ? `/O=${o.org}` : ""}/CN=${o.cn}`;
  execFileSync(
    "openssl",
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", csr, "-subj", subj],
    {
      stdio: "ignore",
    },
  );
  execFileSync("openssl", ["x509", "-req", "-in", csr, "-CA", ca.crt, "-CAkey", ca.key, "-CAcreateserial", "-out", certFile, "-days", "2", "-extfile", ext], {
    stdio: "ignore",
  });
  return { certFile, keyFile };
}
