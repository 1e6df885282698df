// Pure formats: the docker config JSON of pull Secrets, ECR registry host names, and ECR
// authorization tokens (decoding and expiry), Kubernetes label selectors. No I/O.
export * from "./dockerconfig";
export * from "./ecr-token";
export * from "./label-selector";
export * from "./registry-host";
