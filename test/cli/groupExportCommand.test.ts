/**
 * groupExportCommand (src/cli/groupExportCommand.ts) over injected group ports: a snapshot or the
 * mirror without group data is group_data_not_found (exit 2) naming where it looked; a snapshot
 * with group data is written to standard output, nested memberships included; a source that
 * changed while it was read fails the export.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { groupExportCommand } from "../../src/cli/groupExportCommand.js";
import type { GroupDataSource, GroupDataSources } from "../../src/kinds/membershipPorts.js";
import { errorOutcome } from "../../src/shared/errorOutcomes.js";
import { UserSyncError } from "../../src/shared/errors.js";

const SNAPSHOT = "20250310T020000000Z-abcdef";

const stored: GroupDataSource = {
  label: `snapshot ${SNAPSHOT}`,
  select: ["id", "displayName"],
  async *listGroups() {
    yield { id: "g1", displayName: "One" };
  },
  async *listMemberships() {
    yield { groupId: "g1", memberId: "g2", memberType: "group" };
    yield { groupId: "g2", memberId: "u1", memberType: "user" };
  },
  async *listManagers() {},
  assertWhole: async () => undefined,
};

function sources(snapshot: GroupDataSource | undefined): GroupDataSources & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    snapshot: async (id) => (asked.push(id), snapshot),
    current: async () => (asked.push("current"), undefined),
  };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("export --groups / --memberships over the group ports", () => {
  it("says which snapshot or mirror holds no group data, with exit 2", async () => {
    vi.stubEnv("USER_SYNC_GROUPS", "true");
    const none = sources(undefined);
    const error = await groupExportCommand({ snapshot: SNAPSHOT, format: "jsonl", what: "groups", sources: none }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "group_data_not_found", message: expect.stringContaining(`snapshot ${SNAPSHOT}: it was written with USER_SYNC_GROUPS off`) });
    expect(errorOutcome(error).exitCode).toBe(2);
    await expect(groupExportCommand({ current: true, format: "csv", what: "memberships", sources: none })).rejects.toMatchObject({ message: expect.stringContaining("in the live mirror") });
    expect(none.asked).toEqual([SNAPSHOT, "current"]);
  });

  it("refuses before reading any port when USER_SYNC_GROUPS is not true", async () => {
    vi.stubEnv("USER_SYNC_GROUPS", "false");
    const ports = sources(stored);
    await expect(groupExportCommand({ snapshot: SNAPSHOT, format: "jsonl", what: "groups", sources: ports })).rejects.toMatchObject({ code: "invalid_setting" });
    expect(ports.asked).toEqual([]);
  });

  it("writes a snapshot's nested memberships to standard output, and the count to standard error", async () => {
    vi.stubEnv("USER_SYNC_GROUPS", "true");
    let stdout = "";
    let stderr = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((stdout += String(chunk)), true));
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((stderr += String(chunk)), true));
    await groupExportCommand({ snapshot: SNAPSHOT, format: "csv", what: "memberships", transitive: true, sources: sources(stored) });
    expect(stdout).toBe("groupId,memberId,memberType,depth\ng1,g2,group,1\ng1,u1,user,2\ng2,u1,user,1\n");
    expect(stderr).toBe(`Exported 3 nested memberships of 2 groups (direct ones at depth 1) from snapshot ${SNAPSHOT}.\n`);
  });

  it("fails read_incomplete when the source changed while it was read (the port says so after the last line)", async () => {
    vi.stubEnv("USER_SYNC_GROUPS", "true");
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const changed: GroupDataSource = {
      ...stored,
      assertWhole: async () => {
        throw new UserSyncError("read_incomplete", "The live mirror changed while it was read.");
      },
    };
    for (const what of ["groups", "memberships"] as const) {
      await expect(groupExportCommand({ current: true, format: "jsonl", what, sources: { snapshot: async () => undefined, current: async () => changed } })).rejects.toMatchObject({ code: "read_incomplete" });
    }
  });
});
