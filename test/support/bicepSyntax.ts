/**
 * Reads Bicep files through the tree-sitter-bicep grammar (web-tree-sitter + the grammar's wasm), so
 * that the infrastructure tests check what the templates declare without the Bicep CLI.
 *
 * The grammar predates two pieces of syntax this project uses. Each is accepted explicitly and
 * narrowly; any other parse error fails:
 *  - `extension <name>` at the top level of a .bicep file (the Microsoft Graph extension). The
 *    grammar turns it into an ERROR node holding exactly two identifiers.
 *  - untyped `param <name> = <value>` lines of a .bicepparam file. Before parsing, such a line gets
 *    the placeholder type `__bicepparam__` (`param <name> __bicepparam__ = <value>`), which the
 *    grammar reads as a typed declaration; nothing else in the file is touched.
 */
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { Language, Parser, type Node } from "web-tree-sitter";

export type { Node };

export interface BicepDocument {
  path: string;
  source: string;
  root: Node;
  /** Extensions declared with `extension <name>`. */
  extensions: string[];
}

export interface ResourceDeclaration {
  symbol: string;
  /** e.g. Microsoft.Storage/storageAccounts, or a child type's last segment such as `config`. */
  type: string;
  apiVersion: string;
  existing: boolean;
  /** The `if (...)` condition, when the resource is conditional. */
  condition?: Node;
  body: Node;
  node: Node;
}

export interface ParameterDeclaration {
  name: string;
  decorators: string[];
  defaultValue?: Node;
  node: Node;
}

export interface OutputDeclaration {
  name: string;
  decorators: string[];
  value: Node;
  node: Node;
}

const require = createRequire(import.meta.url);
let parserPromise: Promise<Parser> | undefined;

async function createParser(): Promise<Parser> {
  await Parser.init();
  const wasm = require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm");
  const language = await Language.load(wasm);
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

export function bicepParser(): Promise<Parser> {
  parserPromise ??= createParser();
  return parserPromise;
}

function named(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null);
}

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const child of node.children) if (child) walk(child, visit);
}

const EXTENSION = /^extension\s+([A-Za-z_][A-Za-z0-9_]*)$/;

function isKnownExtensionStatement(node: Node): string | undefined {
  if (!node.isError || node.parent?.type !== "infrastructure") return undefined;
  const parts = named(node);
  if (parts.length !== 2 || parts.some((p) => p.type !== "identifier") || parts[0]!.text !== "extension") return undefined;
  return EXTENSION.exec(node.text.trim())?.[1];
}

/** Placeholder type given to the untyped parameter assignments of a .bicepparam file. */
export const BICEPPARAM_TYPE = "__bicepparam__";
const UNTYPED_PARAM_LINE = /^(param\s+[A-Za-z_][A-Za-z0-9_]*)(\s*=)/gm;

/** Parses Bicep source; throws on any syntax error other than the two documented above. */
export async function parseBicep(source: string, path: string): Promise<BicepDocument> {
  const parser = await bicepParser();
  const text = path.endsWith(".bicepparam") ? source.replace(UNTYPED_PARAM_LINE, `$1 ${BICEPPARAM_TYPE}$2`) : source;
  const tree = parser.parse(text);
  if (!tree) throw new Error(`${path}: the parser returned no tree`);
  const root = tree.rootNode;
  const extensions: string[] = [];
  const problems: string[] = [];
  walk(root, (n) => {
    if (!n.isError && !n.isMissing) return;
    const extension = isKnownExtensionStatement(n);
    if (extension) {
      extensions.push(extension);
      return;
    }
    if (n.isError && n.parent && isKnownExtensionStatement(n.parent)) return;
    problems.push(`${path}:${n.startPosition.row + 1}:${n.startPosition.column + 1} ${n.isMissing ? `missing ${n.type}` : `cannot parse ${JSON.stringify(n.text.slice(0, 80))}`}`);
  });
  if (problems.length > 0) throw new Error(`Bicep syntax errors:\n${problems.join("\n")}`);
  return { path, source, root, extensions };
}

export async function parseBicepFile(path: string): Promise<BicepDocument> {
  return parseBicep(readFileSync(path, "utf8"), path);
}

/** Every .bicep and .bicepparam file under a directory, relative paths sorted. */
export function bicepFilesUnder(directory: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (/\.bicep(param)?$/.test(entry.name)) found.push(relative(directory, full));
    }
  };
  visit(directory);
  return found.sort();
}

/** The value of a string literal without interpolation, else undefined. */
export function stringLiteral(node: Node | undefined | null): string | undefined {
  if (!node || node.type !== "string") return undefined;
  const parts = named(node);
  if (parts.some((p) => p.type !== "string_content" && p.type !== "escape_sequence")) return undefined;
  const text = node.text;
  return text.startsWith("'''") ? text.slice(3, -3) : text.slice(1, -1).replace(/\\'/g, "'").replace(/\\\\/g, "\\");
}

/** Literal value of a string, boolean, number or null node. */
export function literal(node: Node | undefined | null): string | number | boolean | null | undefined {
  if (!node) return undefined;
  switch (node.type) {
    case "string":
      return stringLiteral(node);
    case "boolean":
      return node.text === "true";
    case "number":
      return Number(node.text);
    case "null":
      return null;
    default:
      return undefined;
  }
}

function propertyKey(property: Node): string | undefined {
  const key = named(property)[0];
  if (!key) return undefined;
  return key.type === "identifier" ? key.text : stringLiteral(key);
}

/** The properties of an object literal, in order. */
export function objectEntries(object: Node | undefined | null): Array<{ key: string; value: Node; node: Node }> {
  if (!object || object.type !== "object") return [];
  const entries: Array<{ key: string; value: Node; node: Node }> = [];
  for (const child of named(object)) {
    if (child.type !== "object_property") continue;
    const key = propertyKey(child);
    const value = named(child)[1];
    if (key !== undefined && value) entries.push({ key, value, node: child });
  }
  return entries;
}

/** Follows a dotted path of object keys, e.g. `properties.functionAppConfig.runtime`. */
export function property(object: Node | undefined | null, path: string): Node | undefined {
  let current: Node | undefined | null = object;
  for (const key of path.split(".")) {
    current = objectEntries(current).find((e) => e.key === key)?.value;
    if (!current) return undefined;
  }
  return current ?? undefined;
}

export function arrayItems(node: Node | undefined | null): Node[] {
  return node && node.type === "array" ? named(node) : [];
}

function decoratorNames(declaration: Node): string[] {
  const previous = declaration.previousNamedSibling;
  if (!previous || previous.type !== "decorators") return [];
  return named(previous).map((d) => {
    const call = named(d)[0];
    const fn = call?.childForFieldName("function") ?? (call ? named(call)[0] : undefined);
    return fn?.text ?? d.text;
  });
}

/** `[for x in xs: body]` declares one resource shape: its body. */
function unwrapLoop(value: Node): Node {
  const loop = value.type === "array" && value.namedChildCount === 1 ? named(value)[0]! : value;
  if (loop.type !== "for_statement") return value;
  return loop.childForFieldName("body") ?? named(loop)[named(loop).length - 1]!;
}

export function resources(doc: BicepDocument): ResourceDeclaration[] {
  const found: ResourceDeclaration[] = [];
  walk(doc.root, (n) => {
    if (n.type !== "resource_declaration") return;
    const [symbol, typeNode, ...rest] = named(n);
    const typeText = stringLiteral(typeNode) ?? "";
    const at = typeText.lastIndexOf("@");
    const existing = n.children.some((c) => c?.type === "existing");
    const valueNode = unwrapLoop(rest[rest.length - 1]!);
    const condition = valueNode.type === "if_statement" ? named(valueNode)[0] : undefined;
    const body = valueNode.type === "if_statement" ? named(valueNode)[1]! : valueNode;
    found.push({
      symbol: symbol!.text,
      type: at >= 0 ? typeText.slice(0, at) : typeText,
      apiVersion: at >= 0 ? typeText.slice(at + 1) : "",
      existing,
      ...(condition ? { condition } : {}),
      body,
      node: n,
    });
  });
  return found;
}

export function parameters(doc: BicepDocument): ParameterDeclaration[] {
  return named(doc.root)
    .filter((n) => n.type === "parameter_declaration")
    .map((n) => {
      const parts = named(n);
      const last = parts[parts.length - 1];
      const hasDefault = n.children.some((c) => c?.type === "=");
      return {
        name: parts[0]!.text,
        decorators: decoratorNames(n),
        ...(hasDefault && last ? { defaultValue: last } : {}),
        node: n,
      };
    });
}

export function outputs(doc: BicepDocument): OutputDeclaration[] {
  return named(doc.root)
    .filter((n) => n.type === "output_declaration")
    .map((n) => {
      const parts = named(n);
      return { name: parts[0]!.text, decorators: decoratorNames(n), value: parts[parts.length - 1]!, node: n };
    });
}

export function variables(doc: BicepDocument): Map<string, Node> {
  const map = new Map<string, Node>();
  for (const n of named(doc.root)) {
    if (n.type !== "variable_declaration") continue;
    const parts = named(n);
    map.set(parts[0]!.text, parts[parts.length - 1]!);
  }
  return map;
}

/**
 * Resolves an expression to a string when it is a literal, a variable holding a literal, or a
 * member of a variable holding an object of literals (`roles.storageBlobDataOwner`).
 */
export function resolveString(doc: BicepDocument, node: Node | undefined | null): string | undefined {
  if (!node) return undefined;
  const direct = stringLiteral(node);
  if (direct !== undefined) return direct;
  const vars = variables(doc);
  if (node.type === "identifier") return resolveString(doc, vars.get(node.text));
  if (node.type === "member_expression") {
    const object = node.childForFieldName("object");
    const prop = node.childForFieldName("property");
    if (object?.type === "identifier" && prop) return resolveString(doc, property(vars.get(object.text), prop.text));
  }
  return undefined;
}

/** A call's function name and argument nodes, when `node` is a call expression. */
export function call(node: Node | undefined | null): { name: string; args: Node[] } | undefined {
  if (!node || node.type !== "call_expression") return undefined;
  const fn = node.childForFieldName("function");
  const args = node.childForFieldName("arguments") ?? named(node).find((c) => c.type === "arguments");
  return { name: fn?.text ?? "", args: args ? named(args) : [] };
}

/** Every identifier referenced inside a node. */
export function identifiersIn(node: Node): string[] {
  const names: string[] = [];
  walk(node, (n) => {
    if (n.type === "identifier") names.push(n.text);
  });
  return names;
}

export function modules(doc: BicepDocument): Array<{ symbol: string; path: string; body: Node; condition?: Node }> {
  return named(doc.root)
    .filter((n) => n.type === "module_declaration")
    .map((n) => {
      const [symbol, pathNode, valueNode] = named(n);
      const conditional = valueNode!.type === "if_statement";
      return {
        symbol: symbol!.text,
        path: stringLiteral(pathNode) ?? "",
        body: conditional ? named(valueNode!)[1]! : valueNode!,
        ...(conditional ? { condition: named(valueNode!)[0]! } : {}),
      };
    });
}
