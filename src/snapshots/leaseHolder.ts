/**
 * Who holds the writer lease, as the lease entity records it, and whether that holder is a process
 * of this machine that no longer exists (docs/storage.md, "A dead local holder").
 *
 * The entity records the holder's host name and process id, and a scope: the host name, the
 * kernel's boot id and the process id namespace (Linux; empty elsewhere). A holder is dead when its
 * scope is this process's scope (same machine, same boot, same pid namespace: its pid means the same
 * process here) and `process.kill(pid, 0)` answers ESRCH. A holder on another host, in another
 * container, before a reboot, or whose pid is alive (or reused, or not ours to signal: EPERM) keeps
 * its lease until it expires.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

/** What the lease entity records about its holder. */
export interface LeaseHolderFields {
  /** `<host> (pid <pid>)`, for people. */
  host: string;
  hostName?: string;
  pid?: number;
  /** `<host name>|<boot id>|<pid namespace>`: where `pid` means this process. */
  processScope?: string;
}

let scope: string | undefined;

/** This process's scope (computed once). */
export function localProcessScope(): string {
  if (scope === undefined) {
    const read = (what: () => string): string => {
      try {
        return what().trim();
      } catch {
        return "";
      }
    };
    const bootId = read(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"));
    const pidNamespace = read(() => readlinkSync("/proc/self/ns/pid"));
    scope = `${hostname()}|${bootId}|${pidNamespace}`;
  }
  return scope;
}

/** The holder fields of this process. */
export function localHolder(): LeaseHolderFields {
  return { host: `${hostname()} (pid ${process.pid})`, hostName: hostname(), pid: process.pid, processScope: localProcessScope() };
}

/** The dead local holder's host name and pid, or undefined when the holder may be alive (or is elsewhere). */
export function deadLocalHolder(holder: LeaseHolderFields, isAlive: (pid: number) => boolean = processExists): { hostName: string; pid: number } | undefined {
  const { hostName, pid, processScope } = holder;
  if (hostName === undefined || pid === undefined || processScope === undefined) return undefined;
  if (processScope !== localProcessScope() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  return isAlive(pid) ? undefined : { hostName, pid };
}

/** False only when the process certainly does not exist (ESRCH); EPERM means it exists under another user. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
