import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupDeltaClient, parseGroupDeltaPage, type GroupDeltaPage, type MembershipEdgeChange } from "../../src/graph/groupDeltaClient.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { graphTokenFor, startTrustedSimulatedTenant } from "../support/simulatedTenant.js";

const USERS = 20_000;
const GROUPS = 10;
let tenant: SimulatedTenant;
let token: string;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: USERS, seed: 11, groups: { count: GROUPS } });
  token = await graphTokenFor(tenant);
}, 60_000);
afterAll(async () => tenant?.close());

function client(target: SimulatedTenant = tenant, bearer = token): GroupDeltaClient {
  return new GroupDeltaClient({
    graphEndpoint: target.graphEndpoint,
    retryOptions: { maxRetries: 1, retryDelayInMs: 10 },
    adminConsentUrl: `${target.authorityHost}/${target.tenantId}/adminconsent?client_id=${target.clientId}`,
    tokenProvider: { getToken: async () => ({ token: bearer }) },
  });
}

const readAll = (pages: AsyncIterable<GroupDeltaPage>) => Array.fromAsync(pages);

/** Applies edge changes to members by group id (what a mirror will do). */
function apply(edges: Iterable<MembershipEdgeChange>, into = new Map<string, Map<string, string>>()): Map<string, Map<string, string>> {
  for (const edge of edges) {
    const members = into.get(edge.groupId) ?? new Map<string, string>();
    if (edge.removed) members.delete(edge.memberId);
    else members.set(edge.memberId, edge.memberType);
    into.set(edge.groupId, members);
  }
  return into;
}

const directoryMembers = (g: number) => new Map([...tenant.groups.currentMembers(g)].map((m) => [m.id, m.type as string]));

describe("GroupDeltaClient against the simulated tenant", () => {
  let deltaLink: string;
  let members: Map<string, Map<string, string>>;

  it("reads a first round page by page: a 20,000-member group's edges arrive over many pages, its properties once", async () => {
    const counters: Record<string, number> = {};
    const pages = await readAll(client().listDeltaPages({ counters }));
    expect(pages.length).toBeGreaterThanOrEqual(USERS / 500);
    // Never more than a page's worth of edges at a time.
    expect(Math.max(...pages.map((p) => p.edges.length))).toBeLessThanOrEqual(500);
    const big = tenant.groups.groupIdAt(0);
    const groupItems = pages.flatMap((p) => p.groups);
    expect(groupItems.filter((g) => g.kind === "group" && g.group.id === big)).toEqual([
      { kind: "group", group: expect.objectContaining({ id: big, displayName: "All Staff", description: "Everyone in the organization" }) },
    ]);
    expect(pages.filter((p) => p.edges.some((e) => e.groupId === big)).length).toBeGreaterThanOrEqual(40);
    expect(new Set(groupItems.map((g) => (g.kind === "group" ? g.group.id : g.id))).size).toBe(GROUPS);
    expect(groupItems).toHaveLength(GROUPS);
    // Every selected property is there (null when unset), in the canonical form.
    const first = groupItems[0]!;
    expect(first.kind === "group" && Object.keys(first.group)).toEqual(["id", ...client().select.filter((p) => p !== "id")]);

    members = apply(pages.flatMap((p) => p.edges));
    for (let g = 0; g < GROUPS; g++) expect(members.get(tenant.groups.groupIdAt(g)) ?? new Map(), `group ${g}`).toEqual(directoryMembers(g));
    expect(members.get(big)!.size).toBe(USERS + 2);
    expect(new Set(pages.flatMap((p) => p.edges.map((e) => e.memberType)))).toEqual(new Set(["user", "group", "device", "servicePrincipal", "orgContact"]));
    // The cycle: the last group and its parent contain each other.
    const last = tenant.groups.groupIdAt(GROUPS - 1);
    const parent = tenant.groups.groupIdAt(Math.floor((GROUPS - 2) / 2));
    expect(members.get(last)!.get(parent)).toBe("group");
    expect(members.get(parent)!.get(last)).toBe("group");

    expect(pages.at(-1)!.deltaLink).toContain("$deltatoken=");
    expect(pages.slice(0, -1).every((p) => p.nextLink !== undefined && p.deltaLink === undefined)).toBe(true);
    expect(counters).toMatchObject({ graphRequests: pages.length, groupDeltaPages: pages.length, groupDeltaGroups: GROUPS, membershipChanges: [...members.values()].reduce((n, m) => n + m.size, 0) });
    deltaLink = pages.at(-1)!.deltaLink!;
  });

  it("reads only what changed: joins, removals (removed from the group, or deleted), group deletes and restores", async () => {
    const groups = tenant.groups;
    expect(groups.addMember(2, { user: 123 })).toBe(true);
    const leaver = [...groups.currentMembers(3)].find((m) => m.type === "device" || m.type === "user")!;
    groups.removeMember(3, leaver);
    tenant.changes.softDeleteUser(4);
    groups.softDeleteGroup(5);
    groups.changeGroup(6, { description: "Changed" });

    const pages = await readAll(client().listDeltaPages({ startLink: deltaLink }));
    expect(pages).toHaveLength(1);
    const { groups: items, edges } = pages[0]!;
    expect(edges).toContainEqual({ groupId: groups.groupIdAt(2), memberId: tenant.changes.userIdAt(123), memberType: "user" });
    expect(edges).toContainEqual({ groupId: groups.groupIdAt(3), memberId: leaver.id, memberType: leaver.type, removed: { reason: "deleted" } });
    expect(edges).toContainEqual({ groupId: groups.groupIdAt(0), memberId: tenant.changes.userIdAt(4), memberType: "user", removed: { reason: "deleted" } });
    expect(items).toContainEqual({ kind: "removed", id: groups.groupIdAt(5), reason: "changed" });
    expect(items).toContainEqual({ kind: "group", group: expect.objectContaining({ id: groups.groupIdAt(6), description: "Changed" }) });
    apply(edges, members);
    for (const g of [0, 2, 3]) expect(members.get(groups.groupIdAt(g))).toEqual(directoryMembers(g));

    groups.restoreGroup(5);
    const restored = await readAll(client().listDeltaPages({ startLink: pages[0]!.deltaLink! }));
    expect(restored.flatMap((p) => p.groups)).toEqual([{ kind: "group", group: expect.objectContaining({ id: groups.groupIdAt(5) }) }]);
    expect(apply(restored.flatMap((p) => p.edges)).get(groups.groupIdAt(5))).toEqual(directoryMembers(5));
    deltaLink = restored.at(-1)!.deltaLink!;
  });

  it("reports an expired token (400 syncStateNotFound) and a 410 as graph_delta_token_invalid with the reason", async () => {
    tenant.changes.expireDeltaTokens();
    await expect(readAll(client().listDeltaPages({ startLink: deltaLink }))).rejects.toMatchObject({ code: "graph_delta_token_invalid", details: { reason: "expired", status: 400 } });
    const fresh = (await readAll(client().listDeltaPages({ startLink: client().latestUrl }))).at(-1)!.deltaLink!;
    tenant.changes.invalidateDeltaTokens();
    await expect(readAll(client().listDeltaPages({ startLink: fresh }))).rejects.toMatchObject({ code: "graph_delta_token_invalid", details: { reason: "gone", status: 410, hasLocation: true } });
  });

  it("a 403 names GroupMember.Read.All and the admin-consent URL", async () => {
    const bare = await startTrustedSimulatedTenant({ userCount: 5, groups: { count: 4 }, groupRole: false });
    try {
      const failure = readAll(client(bare, await graphTokenFor(bare)).listDeltaPages());
      await expect(failure).rejects.toMatchObject({ code: "graph_forbidden", details: { status: 403, permission: "GroupMember.Read.All" } });
      const error = (await failure.catch((e: unknown) => e)) as Error;
      expect(error.message).toContain("GroupMember.Read.All");
      expect(error.message).toContain(`${bare.authorityHost}/${bare.tenantId}/adminconsent?client_id=${bare.clientId}`);
    } finally {
      await bare.close();
    }
  });

  it("refuses a saved link on another host before sending anything", async () => {
    tenant.requests.reset();
    await expect(readAll(client().listDeltaPages({ startLink: "https://graph.example.net/v1.0/groups/delta?$deltatoken=abc" }))).rejects.toMatchObject({ code: "graph_untrusted_next_link" });
    expect(tenant.requests.count("graph")).toBe(0);
  });
});

describe("parseGroupDeltaPage", () => {
  const select = ["id", "displayName"];
  const page = (value: unknown[]) => JSON.stringify({ value, "@odata.deltaLink": "https://graph.example/v1.0/groups/delta?$deltatoken=x" });

  it("merges a group listed twice on a page, keeps a continuation out of the groups, and reads member types", () => {
    const parsed = parseGroupDeltaPage(
      page([
        { id: "g1", displayName: "One", "members@delta": [{ "@odata.type": "#microsoft.graph.user", id: "u1" }] },
        { id: "g1", "members@delta": [{ "@odata.type": "#microsoft.graph.orgContact", id: "c1", "@removed": { reason: "deleted" } }, { id: "x1" }] },
        { id: "g2", "members@delta": [{ "@odata.type": "#microsoft.graph.group", id: "g1" }] },
        { id: "g3", "@removed": { reason: "deleted" } },
      ]),
      1,
      select,
    );
    expect(parsed.groups).toEqual([
      { kind: "group", group: { id: "g1", displayName: "One" } },
      { kind: "removed", id: "g3", reason: "deleted" },
    ]);
    expect(parsed.edges).toEqual([
      { groupId: "g1", memberId: "u1", memberType: "user" },
      { groupId: "g1", memberId: "c1", memberType: "orgContact", removed: { reason: "deleted" } },
      { groupId: "g1", memberId: "x1", memberType: "directoryObject" },
      { groupId: "g2", memberId: "g1", memberType: "group" },
    ]);
  });

  it("fails a page with an entry or a member without an id, or without any link", () => {
    expect(() => parseGroupDeltaPage(page([{ displayName: "x" }]), 2, select)).toThrow(/page 2 holds an entry without an id/);
    expect(() => parseGroupDeltaPage(page([{ id: "g", "members@delta": [{ "@odata.type": "#microsoft.graph.user" }] }]), 2, select)).toThrow(/member without an id/);
    expect(() => parseGroupDeltaPage(JSON.stringify({ value: [] }), 3, select)).toThrow(/neither @odata.nextLink nor @odata.deltaLink/);
  });
});
