import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryEditor } from "../../../tools/sandboxChanges.js";
import { MEMBER_LINKS_PER_PAGE, type SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { graphTokenFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

const USERS = 20_000;
const GROUPS = 12;
let tenant: SimulatedTenant;
let token: string;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: USERS, seed: 5, groups: { count: GROUPS } });
  token = await graphTokenFor(tenant);
}, 60_000);
afterAll(async () => tenant?.close());

const get = (url: string, bearer = token) => rawRequest("GET", url, { headers: { authorization: `Bearer ${bearer}` } });
type Entry = Record<string, any>;

/** Follows a delta round to its deltaLink. */
async function round(first: string): Promise<{ pages: Entry[][]; deltaLink: string }> {
  const pages: Entry[][] = [];
  let url = first;
  for (;;) {
    const response = await get(url);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    pages.push(response.body.value);
    if (response.body["@odata.deltaLink"] !== undefined) return { pages, deltaLink: response.body["@odata.deltaLink"] };
    url = response.body["@odata.nextLink"];
  }
}

/** Members by group id, merged across pages (removals applied). */
function merge(pages: Entry[][], into = new Map<string, Map<string, string>>()): Map<string, Map<string, string>> {
  for (const group of pages.flat()) {
    if (group["@removed"]) {
      into.delete(group.id);
      continue;
    }
    const members = into.get(group.id) ?? new Map<string, string>();
    for (const link of group["members@delta"] ?? []) {
      if (link["@removed"]) members.delete(link.id);
      else members.set(link.id, link["@odata.type"]);
    }
    into.set(group.id, members);
  }
  return into;
}

const directoryMembers = (g: number | string) => new Map([...tenant.groups.currentMembers(g)].map((m) => [m.id, `#microsoft.graph.${m.type}`]));
const firstUrl = () => `${tenant.graphEndpoint}/v1.0/groups/delta?$select=displayName,description,members`;

describe("simulated Graph /groups and /groups/delta", () => {
  let deltaLink: string;

  it("lists groups by page with $select, and refuses a token without a groups permission", async () => {
    const first = await get(`${tenant.graphEndpoint}/v1.0/groups?$select=id,displayName&$top=5`);
    expect(first.status).toBe(200);
    expect(first.body.value).toHaveLength(5);
    expect(Object.keys(first.body.value[0])).toEqual(["id", "displayName"]);
    expect(first.body.value[0]).toEqual({ id: tenant.groups.groupIdAt(0), displayName: "All Staff" });
    const ids = first.body.value.map((g: Entry) => g.id);
    let next: string | undefined = first.body["@odata.nextLink"];
    while (next !== undefined) {
      const page = await get(next);
      ids.push(...page.body.value.map((g: Entry) => g.id));
      next = page.body["@odata.nextLink"];
    }
    expect(ids).toEqual(Array.from({ length: GROUPS }, (_, i) => tenant.groups.groupIdAt(i)));

    const bare = await startTrustedSimulatedTenant({ userCount: 10, groups: { count: 4 }, groupRole: false });
    try {
      const bareToken = await graphTokenFor(bare);
      for (const path of ["/v1.0/groups", "/v1.0/groups/delta?$select=id,members"]) {
        const denied = await get(`${bare.graphEndpoint}${path}`, bareToken);
        expect(denied.status).toBe(403);
        expect(denied.body.error.code).toBe("Authorization_RequestDenied");
      }
    } finally {
      await bare.close();
    }
    for (const role of ["Group.Read.All", "Directory.Read.All"] as const) {
      const broader = await startTrustedSimulatedTenant({ userCount: 10, groups: { count: 4 }, groupRole: role });
      try {
        expect((await get(`${broader.graphEndpoint}/v1.0/groups/delta?$select=id,members`, await graphTokenFor(broader))).status).toBe(200);
      } finally {
        await broader.close();
      }
    }
  });

  it("refuses $expand and $top on /groups/delta", async () => {
    for (const query of ["$expand=members", "$top=10"]) {
      const refused = await get(`${tenant.graphEndpoint}/v1.0/groups/delta?$select=id&${query}`);
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toContain(query.split("=")[0]);
    }
  });

  it("spreads a 20,000-member group over pages of about 500 links, repeating the group with only its id and more members", async () => {
    const { pages, deltaLink: link } = await round(firstUrl());
    deltaLink = link;
    const linksPerPage = pages.map((page) => page.reduce((n, g) => n + (g["members@delta"]?.length ?? 0), 0));
    expect(Math.max(...linksPerPage)).toBe(MEMBER_LINKS_PER_PAGE);
    const bigId = tenant.groups.groupIdAt(0);
    const appearances = pages.flat().filter((g) => g.id === bigId);
    expect(appearances.length).toBeGreaterThanOrEqual(40);
    expect(appearances[0]).toMatchObject({ displayName: "All Staff" });
    expect(Object.keys(appearances[1]!).sort()).toEqual(["id", "members@delta"]);

    const merged = merge(pages);
    expect(merged.size).toBe(GROUPS);
    for (let g = 0; g < GROUPS; g++) expect(merged.get(tenant.groups.groupIdAt(g)), `group ${g}`).toEqual(directoryMembers(g));
    expect(merged.get(bigId)!.size).toBe(USERS + 2);
    // Every link is the type and id only, whatever the kind.
    const links = pages.flat().flatMap((g) => g["members@delta"] ?? []);
    expect(new Set(links.map((l: Entry) => l["@odata.type"]))).toEqual(
      new Set(["#microsoft.graph.user", "#microsoft.graph.group", "#microsoft.graph.device", "#microsoft.graph.servicePrincipal", "#microsoft.graph.orgContact"]),
    );
    expect(links.every((l: Entry) => Object.keys(l).sort().join() === "@odata.type,id")).toBe(true);
    // The last group and its parent are members of each other: a cycle.
    const last = tenant.groups.groupIdAt(GROUPS - 1);
    const parent = tenant.groups.groupIdAt(Math.floor((GROUPS - 2) / 2));
    expect(merged.get(last)!.get(parent)).toBe("#microsoft.graph.group");
    expect(merged.get(parent)!.get(last)).toBe("#microsoft.graph.group");
  });

  it("returns membership changes with @removed (member removed or member deleted), group deletes and restores", async () => {
    const before = merge((await round(firstUrl())).pages);
    const groups = tenant.groups;
    const newcomer = 17;
    expect(groups.addMember(3, { user: newcomer })).toBe(true);
    const leaver = [...groups.currentMembers(4)].find((m) => m.type === "user")!;
    groups.removeMember(4, leaver);
    tenant.changes.hardDeleteUser(5); // user 5 is in group 0: it leaves it
    groups.changeGroup(6, { displayName: "Renamed" });
    groups.softDeleteGroup(7);

    const changes = await round(deltaLink);
    const flat = changes.pages.flat();
    const g3 = flat.find((g) => g.id === groups.groupIdAt(3))!;
    expect(g3["members@delta"]).toEqual([{ "@odata.type": "#microsoft.graph.user", id: tenant.changes.userIdAt(newcomer) }]);
    expect(flat.find((g) => g.id === groups.groupIdAt(4))!["members@delta"]).toEqual([{ "@odata.type": "#microsoft.graph.user", id: leaver.id, "@removed": { reason: "deleted" } }]);
    expect(flat.find((g) => g.id === groups.groupIdAt(0))!["members@delta"]).toEqual([
      { "@odata.type": "#microsoft.graph.user", id: tenant.changes.userIdAt(5), "@removed": { reason: "deleted" } },
    ]);
    expect(flat.find((g) => g.id === groups.groupIdAt(6))).toMatchObject({ displayName: "Renamed", "members@delta": [] });
    expect(flat.find((g) => g.id === groups.groupIdAt(7))).toEqual({ id: groups.groupIdAt(7), "@removed": { reason: "changed" } });
    const after = merge(changes.pages, before);
    for (const g of [0, 3, 4, 6]) expect(after.get(groups.groupIdAt(g))).toEqual(directoryMembers(g));
    expect(after.has(groups.groupIdAt(7))).toBe(false);

    groups.restoreGroup(7);
    groups.hardDeleteGroup(8);
    const restored = await round(changes.deltaLink);
    const flatRestored = restored.pages.flat();
    expect(flatRestored.find((g) => g.id === groups.groupIdAt(8))).toEqual({ id: groups.groupIdAt(8), "@removed": { reason: "deleted" } });
    merge(restored.pages, after);
    expect(after.get(groups.groupIdAt(7))).toEqual(directoryMembers(7));
    expect(after.get(groups.groupIdAt(7))!.size).toBeGreaterThan(0);
    deltaLink = restored.deltaLink;
  });

  it("puts a restored user back in its groups", async () => {
    const id = tenant.changes.userIdAt(9);
    tenant.changes.softDeleteUser(9);
    const left = await round(deltaLink);
    expect(left.pages.flat().find((g) => g.id === tenant.groups.groupIdAt(0))!["members@delta"]).toEqual([{ "@odata.type": "#microsoft.graph.user", id, "@removed": { reason: "deleted" } }]);
    tenant.changes.restoreUser(9);
    const back = await round(left.deltaLink);
    expect(back.pages.flat().find((g) => g.id === tenant.groups.groupIdAt(0))!["members@delta"]).toEqual([{ "@odata.type": "#microsoft.graph.user", id }]);
    deltaLink = back.deltaLink;
  });

  it("takes an added user out of the groups it joined when it is deleted", async () => {
    const id = tenant.changes.addUser();
    tenant.groups.addMember(2, { type: "user", id });
    const joined = await round(deltaLink);
    expect(joined.pages.flat().find((g) => g.id === tenant.groups.groupIdAt(2))!["members@delta"]).toEqual([{ "@odata.type": "#microsoft.graph.user", id }]);
    tenant.changes.hardDeleteUser(id);
    const left = await round(joined.deltaLink);
    expect(left.pages.flat()).toEqual([expect.objectContaining({ id: tenant.groups.groupIdAt(2), "members@delta": [{ "@odata.type": "#microsoft.graph.user", id, "@removed": { reason: "deleted" } }] })]);
    expect([...tenant.groups.currentMembers(2)].some((m) => m.id === id)).toBe(false);
    deltaLink = left.deltaLink;
  });

  it("refuses an expired token (400 syncStateNotFound) and an invalidated one (410 with a Location)", async () => {
    tenant.changes.expireDeltaTokens();
    const expired = await get(deltaLink);
    expect(expired.status).toBe(400);
    expect(expired.body.error.code).toBe("syncStateNotFound");
    const fresh = (await round(`${tenant.graphEndpoint}/v1.0/groups/delta?$select=id&$deltatoken=latest`)).deltaLink;
    tenant.changes.invalidateDeltaTokens();
    const gone = await get(fresh);
    expect(gone.status).toBe(410);
    expect(gone.headers.location).toBe(`${tenant.graphEndpoint}/v1.0/groups/delta?%24select=id`);
  });
});

describe("simulated managers", () => {
  it("expands the manager on /users and returns manager@delta on /users/delta, following a change", async () => {
    const users = await get(`${tenant.graphEndpoint}/v1.0/users?$select=id&$top=10&$expand=manager($select=id)`);
    expect(users.status).toBe(200);
    expect(users.headers["x-ms-resource-unit"]).toBe("2");
    expect(users.body.value[0]).toEqual({ id: tenant.changes.userIdAt(0) });
    // User 5 was deleted above: user 9 is the ninth of the page.
    expect(users.body.value[8]).toEqual({ id: tenant.changes.userIdAt(9), manager: { "@odata.type": "#microsoft.graph.user", id: tenant.changes.userIdAt(1) } });
    const second = await get(users.body["@odata.nextLink"]);
    expect(second.body.value[0].manager.id).toBe(tenant.changes.userIdAt(1));

    const start = (await round(`${tenant.graphEndpoint}/v1.0/users/delta?$select=id,manager&$deltatoken=latest`)).deltaLink;
    tenant.changes.setManager(10, 2);
    tenant.changes.setManager(11, null);
    const changed = (await round(start)).pages.flat();
    expect(changed).toEqual([
      { id: tenant.changes.userIdAt(10), "manager@delta": [{ "@odata.type": "#microsoft.graph.user", id: tenant.changes.userIdAt(2) }] },
      { id: tenant.changes.userIdAt(11), "manager@delta": [{ "@odata.type": "#microsoft.graph.user", id: tenant.changes.userIdAt(1), "@removed": { reason: "deleted" } }] },
    ]);
    const expanded = await get(`${tenant.graphEndpoint}/v1.0/users?$select=id&$top=12&$expand=manager`);
    expect(expanded.body.value[9]).toMatchObject({ id: tenant.changes.userIdAt(10), manager: { id: tenant.changes.userIdAt(2) } });
    expect(expanded.body.value[10]).toEqual({ id: tenant.changes.userIdAt(11) });
  });

  it("the sandbox's changes move users in and out of groups and change a manager", () => {
    const lines = new DirectoryEditor(tenant).applyMix();
    expect(lines.filter((l) => /^(joined|left|manager) /.test(l))).toHaveLength(3);
  });
});
