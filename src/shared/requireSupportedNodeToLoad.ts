/**
 * The first import of the telemetry bootstrap, which package.json `main` lists first and each
 * function file imports first (kept out of src/functions/, which the Functions host loads whole):
 * on an unsupported Node.js (`func start` with an older `node` first on the PATH), loading the functions fails with the version needed and how to get
 * it, which the Functions host shows as the reason it could not load the entry point. In Azure the
 * platform runs Node.js 22 (infra/), so this never fires there.
 */
import { isSupportedNode, unsupportedNodeMessage } from "./nodeVersion.js";

if (!isSupportedNode(process.versions.node)) {
  throw new Error(unsupportedNodeMessage(process.versions.node, process.execPath).trimEnd());
}
