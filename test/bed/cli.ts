// `npm run testbed` (scripts/testbed.sh bundles this file with esbuild and runs it on Node 22):
// starts the Kubernetes test bed and a moto server for manual exploration, prints
// KUBECONFIG=<path> and MOTO_URL=<url> once ready, and runs until interrupted, then cleans up.
//
//   options: --no-rbac         do not apply infra/k8s/components/fallback/rbac.yaml and admission-policy.yaml (applied by default)
//            --rbac FILE       apply this RBAC manifest (repeatable; replaces the default)
//            --cluster NAME    cluster name (default test-cluster)
//            --eso             also run the real External Secrets Operator controller (built and
//                              cached by scripts/build-eso.sh), pointed at the moto server
//            --node            also a real node (test/bed/node.ts: containerd, kubelet,
//                              controller-manager, scheduler; the registry under the ECR host
//                              name); prints NODE=, NODE_IMAGE=, NODE_IMAGE_AUTH=
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { productEnvForBed } from "../support/bed-env";
import { startMoto, type MotoServer } from "../support/moto";
import { ROOT, startBed, type Bed } from "./index";
import { nodeSupport, startNode, type BedNode } from "./node";
import { PRODUCT_MANIFESTS } from "./product-manifests";

function parseArgs(argv: string[]): { rbac: string[]; cluster: string; eso: boolean; node: boolean } {
  const rbac: string[] = [];
  let noRbac = false;
  let eso = false;
  let node = false;
  let cluster = "test-cluster";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-rbac") noRbac = true;
    else if (a === "--rbac" && argv[i + 1]) rbac.push(argv[++i]!);
    else if (a === "--cluster" && argv[i + 1]) cluster = argv[++i]!;
    else if (a === "--eso") eso = true;
    else if (a === "--node") node = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: npm run testbed [-- --no-rbac | --rbac FILE ... | --cluster NAME | --eso | --node]\n");
      process.exit(0);
    } else {
      process.stderr.write(`testbed: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  if (!noRbac && rbac.length === 0) rbac.push(...PRODUCT_MANIFESTS.filter((file) => existsSync(join(ROOT, file))));
  return { rbac: noRbac ? [] : rbac, cluster, eso, node };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  let bed: Bed | undefined;
  let moto: MotoServer | undefined;
  let node: BedNode | undefined;
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write("testbed: stopping...\n");
    // The node first: it undoes its changes to the machine while the API server still runs.
    await node?.stop().catch((e: Error) => process.stderr.write(`testbed: ${e.message}\n`));
    await Promise.allSettled([bed?.stop(), moto?.stop()]);
    process.stderr.write("testbed: stopped, temporary files removed\n");
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));
  process.on("SIGHUP", () => void shutdown(0));

  if (args.node) {
    const support = nodeSupport();
    if (!support.ok) {
      process.stderr.write(`testbed: FAILED: --node: ${support.reason}\n`);
      process.exit(1);
    }
  }
  const nodeAuth = args.node;
  try {
    if (args.eso) {
      // ESO is pointed at moto: moto first.
      moto = await startMoto();
      bed = await startBed({ verbose: true, clusterName: args.cluster, rbacManifests: args.rbac, eso: { awsEndpoint: moto.url }, nodeAuth });
    } else {
      [bed, moto] = await Promise.all([startBed({ verbose: true, clusterName: args.cluster, rbacManifests: args.rbac, nodeAuth }), startMoto()]);
    }
    if (args.node) node = await startNode(bed, { verbose: true });
  } catch (error) {
    process.stderr.write(`testbed: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    await shutdown(1);
    return;
  }

  // A kubeconfig that authenticates as the rotator identity the way EKS users do: an exec plugin
  // running `aws eks get-token` with the identity's test credentials.
  const rotator = bed.identities.rotator;
  const rotatorKubeconfig = join(bed.dir, "kubeconfigs", "rotator.yaml");
  if (rotator) {
    const env = Object.entries(bed.awsEnv("rotator")).map(([name, value]) => ({ name, value }));
    writeFileSync(
      rotatorKubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: bed.clusterName, cluster: { server: bed.proxyUrl, "certificate-authority-data": bed.caData } }],
        users: [
          {
            name: "rotator",
            user: {
              exec: {
                apiVersion: "client.authentication.k8s.io/v1beta1",
                command: "python3",
                args: ["-m", "awscli", "eks", "get-token", "--cluster-name", bed.clusterName, "--region", bed.region],
                env,
                interactiveMode: "Never",
              },
            },
          },
        ],
        contexts: [{ name: "rotator", context: { cluster: bed.clusterName, user: "rotator" } }],
        "current-context": "rotator",
      }),
      { mode: 0o600 },
    );
  }

  // The product's environment for this bed (the same as the bed tests'), as a file to source.
  const productEnvFile = join(bed.dir, "product.env");
  const quote = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;
  const productEnv = Object.entries(productEnvForBed(bed, moto)).map(([k, v]) => `export ${k}=${quote(v)}`);
  writeFileSync(productEnvFile, `${productEnv.join("\n")}\n`, { mode: 0o600 });

  const lines = [
    `KUBECONFIG=${bed.adminKubeconfig}`,
    `MOTO_URL=${moto.url}`,
    ...(node
      ? [
          `NODE=${node.name}`,
          `NODE_IMAGE=${node.image}`,
          `NODE_IMAGE_AUTH=${node.authFile}`,
          `# node Ready in ${node.startMs} ms; registry ${node.registryHost} on 127.0.0.1:443 (hosts entry) accepts only the current token (moto's); logs ${node.dir}`,
        ]
      : []),
    `# ready in ${Date.now() - t0} ms`,
    `# cluster ${bed.clusterName} (${bed.region}); API server ${bed.apiServerUrl}; fault proxy ${bed.proxyUrl} (control ${bed.proxy.controlUrl})`,
    `# CA certificate (PEM file; EKS_CLUSTERS' caData is its base64): ${bed.caFile}`,
    `# ROTATOR_KUBECONFIG=${rotatorKubeconfig}   (user ecr-token-rotator via aws eks get-token, through the proxy)`,
    `# RBAC applied: ${args.rbac.length ? args.rbac.join(", ") : "none"}`,
    ...(bed.eso
      ? [
          `# External Secrets Operator ${bed.eso.version} running as ${bed.eso.identity}; log ${bed.eso.logFile}`,
          "#   AWS Secrets Manager / STS = MOTO_URL; infra/k8s/base/cluster-secret-store.yaml works unchanged (IRSA through moto's STS)",
        ]
      : []),
    `# try: KUBECONFIG=${bed.adminKubeconfig} kubectl get crd`,
    `#      curl -s -X POST ${bed.proxy.controlUrl}/faults -d '{"fault":{"kind":"status","status":429,"retryAfter":2},"times":3}'`,
    "# point the CLI at the bed (moto's ECR tokens expire 2015-01-01, hence --now), in another shell:",
    `#      . ${productEnvFile}`,
    "#      npm run build && npx ecr-token-rotator heal --now 2014-12-31T12:30:00Z",
    `#      npx ecr-token-rotator diagnose; npx ecr-token-rotator eks-token --check --cluster ${bed.clusterName}`,
    "# Ctrl-C stops everything and removes the temporary files.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  // Run until a signal arrives.
  setInterval(() => undefined, 1 << 30);
}

void main();
