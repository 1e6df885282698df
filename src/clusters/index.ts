// The Kubernetes half of a run, loaded lazily: per selected cluster, connect (EKS), apply the
// pull Secret / heal, or diagnose; returns the report rows.
export * from "./step";
