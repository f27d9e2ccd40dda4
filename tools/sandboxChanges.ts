/**
 * Directory changes for the sandbox and the demo: add, update, rename, soft delete, hard delete and
 * restore a few users of a simulated tenant, add users to groups and take them out, and change
 * managers, each described in a line, so that `run` (an incremental round), `export --changes` and
 * (after `run --full`) `diff` have something to show.
 */
import type { SimulatedTenant } from "./simulated-tenant/index.js";

export type ChangeKind = "add" | "update" | "rename" | "soft-delete" | "hard-delete" | "restore" | "join" | "leave" | "manager";
export const CHANGE_KINDS: readonly ChangeKind[] = ["add", "update", "rename", "soft-delete", "hard-delete", "restore", "join", "leave", "manager"];

const TITLES = ["Principal Engineer", "Director of Operations", "Product Manager", "Data Scientist", "Site Reliability Engineer"];
const DEPARTMENTS = ["Research", "Operations", "Finance", "Platform", "Sales"];

export class DirectoryEditor {
  readonly #tenant: SimulatedTenant;
  /** Generated users are touched from the end of the directory backwards, each at most once. */
  #nextIndex: number;
  #added = 0;
  #updates = 0;
  /** Soft-deleted users, oldest first: restore brings them back. */
  readonly #softDeleted: string[] = [];
  /** Membership and manager changes touch users from the start of the directory forwards. */
  #nextMemberIndex = 1;
  #nextGroup = 0;

  constructor(tenant: SimulatedTenant) {
    this.#tenant = tenant;
    this.#nextIndex = tenant.directory.userCount - 1;
  }

  /** Applies `count` changes of one kind; returns one line per change. */
  apply(kind: ChangeKind, count = 1): string[] {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const line = this.#applyOne(kind);
      if (line === undefined) break;
      lines.push(line);
    }
    return lines;
  }

  /**
   * A mixed batch: 2 added, 2 updated, 1 renamed, 1 soft-deleted, 1 hard-deleted, a restore when one
   * is waiting, then (when the tenant has groups) one user joins a group and one leaves, and one
   * user gets a new manager.
   */
  applyMix(): string[] {
    const restore = this.#softDeleted.length > 0 ? this.apply("restore") : [];
    return [
      ...this.apply("add", 2),
      ...this.apply("update", 2),
      ...this.apply("rename"),
      ...this.apply("soft-delete"),
      ...this.apply("hard-delete"),
      ...restore,
      ...this.apply("join"),
      ...this.apply("leave"),
      ...this.apply("manager"),
    ];
  }

  /** The next present generated user from the start of the directory (for memberships and managers). */
  #takeFromStart(): number | undefined {
    const changes = this.#tenant.changes;
    while (this.#nextMemberIndex < this.#tenant.directory.userCount) {
      const index = this.#nextMemberIndex++;
      if (changes.currentUser(index) !== undefined) return index;
    }
    return undefined;
  }

  /** Groups 1.. in turn (group 0 is the large one). */
  #takeGroup(): number | undefined {
    const count = this.#tenant.groups.groupCount;
    if (count < 2) return undefined;
    this.#nextGroup = (this.#nextGroup % (count - 1)) + 1;
    return this.#nextGroup;
  }

  #groupLabel(index: number): string {
    const groups = this.#tenant.groups;
    return `group "${String(groups.groupInSlot(index)?.displayName)}" (${groups.groupIdAt(index)})`;
  }

  /** Users present in the directory now. */
  presentUserCount(): number {
    return this.#tenant.changes.presentUserCount();
  }

  #takeGenerated(): number | undefined {
    const changes = this.#tenant.changes;
    while (this.#nextIndex >= 0) {
      const index = this.#nextIndex--;
      if (changes.currentUser(index) !== undefined) return index;
    }
    return undefined;
  }

  #label(index: number): string {
    const user = this.#tenant.changes.currentUser(index)!;
    return `${String(user.displayName)} <${String(user.userPrincipalName)}> (${user.id})`;
  }

  #applyOne(kind: ChangeKind): string | undefined {
    const changes = this.#tenant.changes;
    switch (kind) {
      case "add": {
        const n = ++this.#added;
        const id = changes.addUser({ displayName: `Sandbox User ${n}`, givenName: "Sandbox", surname: `User ${n}`, jobTitle: "New Hire", department: "Onboarding" });
        return `added    Sandbox User ${n} (${id})`;
      }
      case "update": {
        const index = this.#takeGenerated();
        if (index === undefined) return undefined;
        const u = this.#updates++;
        const properties = { jobTitle: TITLES[u % TITLES.length], department: DEPARTMENTS[u % DEPARTMENTS.length] };
        const label = this.#label(index);
        changes.changeUser(index, properties);
        return `updated  ${label}: jobTitle "${properties.jobTitle}", department "${properties.department}"`;
      }
      case "rename": {
        const index = this.#takeGenerated();
        if (index === undefined) return undefined;
        const label = this.#label(index);
        const upn = `renamed.${index}@${this.#tenant.tenantDomain}`;
        changes.renameUser(index, upn);
        return `renamed  ${label} to ${upn}`;
      }
      case "soft-delete": {
        const index = this.#takeGenerated();
        if (index === undefined) return undefined;
        const label = this.#label(index);
        changes.softDeleteUser(index);
        this.#softDeleted.push(changes.userIdAt(index));
        return `deleted  ${label} (soft: in the deleted items, restorable)`;
      }
      case "hard-delete": {
        const index = this.#takeGenerated();
        if (index === undefined) return undefined;
        const label = this.#label(index);
        changes.hardDeleteUser(index);
        return `deleted  ${label} (permanently)`;
      }
      case "join": {
        const group = this.#takeGroup();
        if (group === undefined) return undefined;
        for (let index = this.#takeFromStart(); index !== undefined; index = this.#takeFromStart()) {
          if (this.#tenant.groups.addMember(group, { user: index })) return `joined   ${this.#label(index)} to ${this.#groupLabel(group)}`;
        }
        return undefined;
      }
      case "leave": {
        const group = this.#takeGroup();
        if (group === undefined) return undefined;
        for (const member of this.#tenant.groups.currentMembers(group)) {
          if (member.type !== "user") continue;
          const user = changes.currentUser(member.id);
          this.#tenant.groups.removeMember(group, member);
          return `left     ${user === undefined ? `user ${member.id}` : `${String(user.displayName)} (${member.id})`} from ${this.#groupLabel(group)}`;
        }
        return undefined;
      }
      case "manager": {
        const index = this.#takeFromStart();
        const manager = this.#takeFromStart();
        if (index === undefined || manager === undefined) return undefined;
        changes.setManager(index, manager);
        return `manager  ${this.#label(index)} now reports to ${this.#label(manager)}`;
      }
      case "restore": {
        const id = this.#softDeleted.shift();
        if (id === undefined) return undefined;
        changes.restoreUser(id);
        const user = changes.currentUser(id)!;
        return `restored ${String(user.displayName)} <${String(user.userPrincipalName)}> (${id})`;
      }
    }
  }
}
