import { CreateClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { DEFAULT_IDENTITIES, type Bed } from "../bed/index";
import { motoEnv, type MotoServer } from "./moto";
import type { ProxiedMoto } from "./moto-proxy";

export const BED_ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/**
 * The product's environment for a run against moto + the Kubernetes test bed: the rotator
 * identity signs the EKS token (moto accepts any credentials), the bed's cluster is reached
 * through the fault proxy with its CA (moto's DescribeCluster has no usable endpoint/CA; see
 * {@link motoClusterForBed} for a cluster found through DescribeCluster instead). `moto` is a
 * moto server or anything in front of it (a ProxiedMoto's `url`).
 */
export function productEnvForBed(bed: Bed, moto: Pick<MotoServer, "url">, extra: Record<string, string> = {}): Record<string, string> {
  const rotator = DEFAULT_IDENTITIES.rotator;
  return {
    ...motoEnv(moto.url),
    AWS_ACCESS_KEY_ID: rotator.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rotator.secretAccessKey,
    ECR_REGISTRIES: BED_ECR_HOST,
    SECRET_NAME: "production/ecr/credentials",
    EKS_CLUSTERS: JSON.stringify([{ name: bed.clusterName, region: "us-east-1", endpoint: bed.proxyUrl, caData: bed.caData }]),
    TARGET_NAMESPACES: "*",
    EXCLUDE_NAMESPACES: "kube-system,kube-public,kube-node-lease,default",
    PATCH_SERVICE_ACCOUNTS: "default",
    ...extra,
  };
}

/**
 * The bed's cluster as an EKS cluster in moto, found the production way: CreateCluster names it
 * in moto (us-east-1), and moto's DescribeCluster answers — through the proxy in front of moto —
 * carry the bed's endpoint (its fault proxy) and CA instead of moto's random ones. With
 * `EKS_CLUSTERS=<bed.clusterName>` (no endpoint/caData) the product then calls DescribeCluster,
 * signs its EKS token for that name and reaches the bed's kube-apiserver.
 */
export async function motoClusterForBed(bed: Bed, aws: ProxiedMoto): Promise<void> {
  const eks = new EKSClient({ region: "us-east-1", endpoint: aws.moto.url, credentials: { accessKeyId: "t", secretAccessKey: "t" } });
  try {
    await eks.send(
      new CreateClusterCommand({
        name: bed.clusterName,
        roleArn: "arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig: { subnetIds: ["subnet-11111111", "subnet-22222222"] },
      }),
    );
  } finally {
    eks.destroy();
  }
  const match = { method: "GET", path: `/clusters/${bed.clusterName}` };
  aws.proxy.rewrite('"endpoint":\\s*"[^"]*"', `"endpoint": "${bed.proxyUrl}"`, { match });
  aws.proxy.rewrite('"certificateAuthority":\\s*\\{\\s*"data":\\s*"[^"]*"\\s*\\}', `"certificateAuthority": {"data": "${bed.caData}"}`, { match });
}
