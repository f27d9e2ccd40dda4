/**
 * The lines of export --groups and --memberships [--transitive] (src/cli/groupExportFormats.ts)
 * from an in-memory group source: JSON Lines' key order, CSV's header, quoting and formula guard,
 * a header with no rows, and the nested memberships computed through the formatter (depths, a
 * cycle reported).
 */
import { describe, expect, it } from "vitest";
import { MEMBERSHIP_COLUMNS, writeGroups, writeMemberships, writeTransitiveMemberships } from "../../src/cli/groupExportFormats.js";
import type { GroupDataSource, MembershipEdge } from "../../src/kinds/membershipPorts.js";
import type { GraphObject } from "../../src/kinds/objectKind.js";

function source(groups: GraphObject[], edges: MembershipEdge[], select = ["id", "displayName"]): GroupDataSource {
  return {
    label: "test",
    select,
    async *listGroups() {
      yield* groups;
    },
    async *listMemberships() {
      yield* edges;
    },
    async *listManagers() {},
    assertWhole: async () => undefined,
  };
}

function sink() {
  const chunks: string[] = [];
  return { chunks, text: () => chunks.join(""), write: async (text: string) => void chunks.push(text) };
}

const edges: MembershipEdge[] = [
  { groupId: "g1", memberId: "g2", memberType: "group" },
  { groupId: "g1", memberId: "u1", memberType: "user" },
  { groupId: "g2", memberId: "d1", memberType: "device" },
  { groupId: "g2", memberId: "g1", memberType: "group" },
];

describe("group exports", () => {
  it("jsonl writes each group whole and each membership as {groupId, memberId, memberType}, in that key order", async () => {
    const out = sink();
    const groups = [{ id: "g1", displayName: "All Staff", mailEnabled: false }];
    expect(await writeGroups(source(groups, []), { format: "jsonl", write: out.write })).toBe(1);
    expect(out.text()).toBe('{"id":"g1","displayName":"All Staff","mailEnabled":false}\n');
    const lines = sink();
    expect(await writeMemberships(source([], edges), { format: "jsonl", write: lines.write })).toBe(4);
    const first = lines.text().split("\n")[0]!;
    expect(first).toBe('{"groupId":"g1","memberId":"g2","memberType":"group"}');
  });

  it("csv writes the groups' $select as the header, quotes, and guards a cell a spreadsheet would run as a formula", async () => {
    const out = sink();
    await writeGroups(source([{ id: "g1", displayName: '=HYPERLINK("x"), "A"' }, { id: "g2", displayName: null }], []), { format: "csv", write: out.write });
    expect(out.text()).toBe(['id,displayName', `g1,"'=HYPERLINK(""x""), ""A"""`, "g2,", ""].join("\n"));
    const raw = sink();
    await writeGroups(source([{ id: "g1", displayName: "=1+1" }], []), { format: "csv", raw: true, write: raw.write });
    expect(raw.text()).toBe("id,displayName\ng1,=1+1\n");
  });

  it("csv memberships have the columns groupId,memberId,memberType, and the header alone when there is none", async () => {
    const out = sink();
    await writeMemberships(source([], edges.slice(0, 2)), { format: "csv", write: out.write });
    expect(out.text()).toBe(`${MEMBERSHIP_COLUMNS.join(",")}\ng1,g2,group\ng1,u1,user\n`);
    const empty = sink();
    expect(await writeMemberships(source([], []), { format: "csv", write: empty.write })).toBe(0);
    expect(empty.text()).toBe("groupId,memberId,memberType\n");
  });

  it("--transitive adds the shortest depth, group by group, and reports the groups in a cycle", async () => {
    const out = sink();
    const summary = await writeTransitiveMemberships(source([], edges), { format: "jsonl", write: out.write });
    expect(out.text().trim().split("\n").map((line) => JSON.parse(line) as unknown)).toEqual([
      { groupId: "g1", memberId: "g2", memberType: "group", depth: 1 },
      { groupId: "g1", memberId: "u1", memberType: "user", depth: 1 },
      { groupId: "g1", memberId: "d1", memberType: "device", depth: 2 },
      { groupId: "g2", memberId: "d1", memberType: "device", depth: 1 },
      { groupId: "g2", memberId: "g1", memberType: "group", depth: 1 },
      { groupId: "g2", memberId: "u1", memberType: "user", depth: 2 },
    ]);
    expect(out.chunks).toHaveLength(1); // six lines: one batch
    expect(summary).toEqual({ memberships: 6, groups: 2, inCycle: { count: 2, first: ["g1", "g2"] } });
  });

  it("writes in batches of 500 lines, whatever the size of a group", async () => {
    const many: MembershipEdge[] = Array.from({ length: 1_200 }, (_, i) => ({ groupId: "g", memberId: `u${String(i).padStart(4, "0")}`, memberType: "user" }));
    for (const write of [writeMemberships, writeTransitiveMemberships]) {
      const out = sink();
      await write(source([], many), { format: "csv", write: out.write });
      expect(out.chunks.map((chunk) => chunk.split("\n").length - 1)).toEqual([501, 500, 200]); // the header comes with the first line
    }
  });

  it("--transitive in csv has the depth column last, and a header with no membership", async () => {
    const out = sink();
    await writeTransitiveMemberships(source([], edges.slice(0, 1)), { format: "csv", write: out.write });
    expect(out.text()).toBe("groupId,memberId,memberType,depth\ng1,g2,group,1\n");
    const empty = sink();
    await writeTransitiveMemberships(source([], []), { format: "csv", write: empty.write });
    expect(empty.text()).toBe("groupId,memberId,memberType,depth\n");
  });
});
