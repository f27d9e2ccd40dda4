/**
 * The guard of issue 28's "no public client fields": UserSyncService keeps the clients it is given
 * to itself. Whoever else reads a tenant's stores, Graph readers, tokens or settings (telemetry, the
 * tenant's health, the command line, tests, the benchmark) takes them from the composition
 * (src/app/syncService.ts, src/app/tenantServices.ts) or through a port (src/fanout/tenantSyncServices.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { AppClients } from "../../src/sync/syncClients.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import { SRC, sourceFiles } from "../support/floors.js";
import { ROOT } from "../support/scriptStubs.js";

/** The public members of a class: neither `#private` nor `private`/`protected`, and not static. */
function publicMembers(text: string, className: string): { name: string; kind: "field" | "accessor" | "method" }[] {
  const source = ts.createSourceFile("service.ts", text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = source.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === className);
  if (found === undefined) throw new Error(`no class ${className}`);
  const hidden = (m: ts.ClassElement) =>
    (m.name !== undefined && ts.isPrivateIdentifier(m.name)) ||
    (ts.canHaveModifiers(m) && (ts.getModifiers(m) ?? []).some((k) => k.kind === ts.SyntaxKind.PrivateKeyword || k.kind === ts.SyntaxKind.ProtectedKeyword || k.kind === ts.SyntaxKind.StaticKeyword));
  const members: { name: string; kind: "field" | "accessor" | "method" }[] = [];
  for (const member of found.members) {
    if (ts.isConstructorDeclaration(member)) {
      // A parameter property (`constructor(readonly store: …)`) is a field too.
      for (const parameter of member.parameters) {
        const modifiers = ts.getModifiers(parameter) ?? [];
        const declares = modifiers.some((k) => [ts.SyntaxKind.PublicKeyword, ts.SyntaxKind.ReadonlyKeyword].includes(k.kind));
        const isPrivate = modifiers.some((k) => k.kind === ts.SyntaxKind.PrivateKeyword || k.kind === ts.SyntaxKind.ProtectedKeyword);
        if (declares && !isPrivate) members.push({ name: parameter.name.getText(source), kind: "field" });
      }
      continue;
    }
    if (hidden(member) || member.name === undefined) continue;
    const kind = ts.isPropertyDeclaration(member) ? "field" : ts.isGetAccessor(member) || ts.isSetAccessor(member) ? "accessor" : "method";
    members.push({ name: member.name.getText(source), kind });
  }
  return members;
}

/** Element accesses (`x["store"]`, not a type's `T["store"]`) whose key is a client's name. */
function clientsReadByName(text: string): string[] {
  // Most files name no client in quotes at all: only those are parsed.
  if (!CLIENTS.some((name) => text.includes(`"${name}"`) || text.includes(`'${name}'`) || text.includes(`\`${name}\``))) return [];
  const source = ts.createSourceFile("file.ts", text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression) && (CLIENTS as readonly string[]).includes(node.argumentExpression.text)) {
      found.push(node.argumentExpression.getText(source));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const CLIENTS = ["settings", "credential", "graphCredential", "certificates", "tokens", "users", "delta", "store", "mirror", "storage"] as const satisfies readonly (keyof AppClients)[];

describe("UserSyncService's clients", () => {
  const members = publicMembers(readFileSync(join(SRC, "sync", "userSyncService.ts"), "utf8"), "UserSyncService");

  it("are no public field of it: its public members are its runs, what is due, and whether its tables exist", () => {
    expect(members.filter((m) => m.kind === "field")).toEqual([]);
    expect(members.map((m) => m.name).filter((name) => (CLIENTS as readonly string[]).includes(name))).toEqual([]);
    expect(members.map((m) => m.name).sort()).toEqual(["runDue", "runMirrorRound", "runSync", "tablesExist", "whatIsDue"]);
  });

  it("are not in its type either (the compiler's view, checked by the typecheck)", () => {
    expectTypeOf<Extract<keyof UserSyncService, keyof AppClients>>().toEqualTypeOf<never>();
  });

  it("are not reached by name either: no `x[\"store\"]` past the compiler's `private` anywhere in src/, test/ or tools/", () => {
    const files = ["src", "test", "tools"].flatMap((folder) => sourceFiles(join(ROOT, folder)));
    expect(files.length).toBeGreaterThan(300);
    expect(files.flatMap((file) => clientsReadByName(readFileSync(file, "utf8")).map((name) => `${file}: [${name}]`))).toEqual([]);
    expect(clientsReadByName(`const a = service["store"]; type T = Clients["store"]; const b = ["store"]; const c = service.store;`)).toEqual(['"store"']);
  });

  it("finds a public client field, a parameter property and a public getter when there is one", () => {
    const text = `export class UserSyncService {
  readonly store: unknown;
  private readonly mirror: unknown;
  readonly #delta: unknown;
  static readonly VERSION = 1;
  constructor(readonly tokens: unknown, private readonly users: unknown) {}
  get settings(): unknown { return undefined; }
  async runDue(): Promise<void> {}
  async #runDue(): Promise<void> {}
}`;
    expect(publicMembers(text, "UserSyncService")).toEqual([
      { name: "store", kind: "field" },
      { name: "tokens", kind: "field" },
      { name: "settings", kind: "accessor" },
      { name: "runDue", kind: "method" },
    ]);
  });
});
