/**
 * The groups round's read ceiling (groupsRoundBench.ts): Graph's time alone, in its own process
 * started with the product's settings (USER_SYNC_GROUPS=true): every `/users` page (with the
 * manager, as the round reads them) and a first round of `/groups/delta` (with its members), read
 * through the product's own Graph clients and nothing stored. Prints one JSON line on stdout:
 * the pages Graph handed out and the time each pass took.
 */
import "../../src/shared/requireSupportedNode.js";
import { performance } from "node:perf_hooks";
import { composeApp } from "../../src/app/compose.js";
import { silentLogger } from "../../src/shared/logger.js";

export interface ReadCeiling {
  userPages: number;
  users: number;
  groupPages: number;
  membershipLinks: number;
  usersSeconds: number;
  groupsSeconds: number;
}

const clients = composeApp(process.env, silentLogger);
if (!clients.groups) {
  console.error("groupsReadCeiling: USER_SYNC_GROUPS=true is needed (the bench sets it).");
  process.exit(2);
}
let started = performance.now();
let userPages = 0;
let users = 0;
for await (const page of clients.users.listUserPages()) {
  userPages += 1;
  users += page.users.length;
}
const usersSeconds = (performance.now() - started) / 1000;
started = performance.now();
let groupPages = 0;
let membershipLinks = 0;
for await (const page of clients.groups.delta.listDeltaPages()) {
  groupPages += 1;
  membershipLinks += page.edges.length;
}
const groupsSeconds = (performance.now() - started) / 1000;
const result: ReadCeiling = { userPages, users, groupPages, membershipLinks, usersSeconds, groupsSeconds };
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
