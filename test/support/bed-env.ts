import { DEFAULT_IDENTITIES, type Bed } from "../bed/index";
import { motoEnv, type MotoServer } from "./moto";

export const BED_ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/**
 * The product's environment for a run against moto + the Kubernetes test bed: the rotator
 * identity signs the EKS token (moto accepts any credentials), the bed's cluster is reached
 * through the fault proxy with its CA (moto's DescribeCluster has no usable endpoint/CA).
 */
export function productEnvForBed(bed: Bed, moto: MotoServer, extra: Record<string, string> = {}): Record<string, string> {
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
