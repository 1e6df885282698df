// The command line: `ecr-token-rotator [rotate|heal|diagnose|eks-token …]`, same core as the
// Lambda. main.ts is the bundle entry point; eks-token.ts loads only for that command.
export * from "./main";
