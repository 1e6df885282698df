// The command line: `ecr-token-rotator [rotate|heal|diagnose|eks-token …]`, same core as the
// Lambda. main.ts is the bundle entry point; options.ts checks the options; eks-token.ts loads
// only for that command, and function-config.ts (@aws-sdk/client-lambda) only for --function.
// target.ts writes the first line (what a command acts on), progress.ts the progress of the
// Kubernetes step.
export * from "./main";
export * from "./target";
export * from "./progress";
