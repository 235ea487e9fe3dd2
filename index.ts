// The Pulumi program: the stack that program.ts declares; its outputs are the stack outputs.
// No endpoint key output: whatever can decrypt the state (a pull request's preview) could read it. Get the key with
// `az ml online-endpoint get-credentials -n <endpointName> ...`, or let `npm run invoke -- --endpoint-id ...` read it.
import { declareStack } from "./program";

export = declareStack();
