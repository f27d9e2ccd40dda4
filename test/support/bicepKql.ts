/**
 * The KQL a Bicep file ships, read from its syntax tree (test/support/bicepSyntax.ts): the value of
 * every `query` property, as Azure receives it.
 *  - A string is taken as Bicep evaluates it: escapes decoded, and each `${…}` replaced by the
 *    parameter's literal default, a string variable's value, or a sample value the caller gives for it.
 *  - An identifier that is a parameter of a user-defined function (the workbook's `chart(title,
 *    query, …)`) is followed to every call of that function, and the argument there is read: a
 *    string, a variable, or a member of a variable holding an object (`queries.changes`).
 * Anything else throws, naming the place, so that no query goes unchecked.
 */
import type { BicepDocument, Node } from "./bicepSyntax.js";
import { call, literal, objectEntries, parameters, property, stringLiteral, variables } from "./bicepSyntax.js";

export interface BicepKqlQuery {
  /** Where the query is, for messages: `infra/modules/monitoring.bicep:100 failedRunAlert`. */
  name: string;
  text: string;
  /** The Bicep string it was read from. */
  node: Node;
}

/** Values for `${expression}` interpolations whose expression has no literal default, by expression text. */
export type InterpolationSamples = Readonly<Record<string, string>>;

function named(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null);
}

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const child of named(node)) walk(child, visit);
}

function at(doc: BicepDocument, node: Node): string {
  return `${doc.path}:${node.startPosition.row + 1}`;
}

function ancestor(node: Node, type: string): Node | undefined {
  for (let n = node.parent; n; n = n.parent) if (n.type === type) return n;
  return undefined;
}

const ESCAPES: Record<string, string> = { "\\\\": "\\", "\\'": "'", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$" };

function decodeEscape(doc: BicepDocument, node: Node): string {
  const known = ESCAPES[node.text];
  if (known !== undefined) return known;
  const unicode = /^\\u\{([0-9A-Fa-f]+)\}$/.exec(node.text);
  if (unicode) return String.fromCodePoint(parseInt(unicode[1]!, 16));
  throw new Error(`${at(doc, node)}: unknown escape ${node.text}`);
}

function interpolate(doc: BicepDocument, expression: Node, samples: InterpolationSamples): string {
  if (expression.type === "identifier") {
    const value = literal(parameters(doc).find((p) => p.name === expression.text)?.defaultValue);
    if (value !== undefined && value !== null) return String(value);
    // A variable holding a string (a shared piece of query): evaluated in turn.
    const variable = variables(doc).get(expression.text);
    if (variable?.type === "string") return evaluateString(doc, variable, samples);
  }
  const sample = samples[expression.text];
  if (sample === undefined) throw new Error(`${at(doc, expression)}: a query interpolates \${${expression.text}}, which has no literal default: give the check a value for it`);
  return sample;
}

/** The string Bicep evaluates `node` (a string literal, interpolated or not) to. */
export function evaluateString(doc: BicepDocument, node: Node, samples: InterpolationSamples): string {
  if (node.type !== "string") throw new Error(`${at(doc, node)}: expected a string, found ${node.type} ${JSON.stringify(node.text.slice(0, 60))}`);
  if (node.text.startsWith("'''")) return stringLiteral(node)!;
  return named(node)
    .map((part) => {
      switch (part.type) {
        case "string_content":
          return part.text;
        case "escape_sequence":
          return decodeEscape(doc, part);
        case "interpolation":
          return interpolate(doc, named(part)[0]!, samples);
        default:
          throw new Error(`${at(doc, part)}: unexpected ${part.type} in a string`);
      }
    })
    .join("");
}

/** A string literal, or the string a variable or a variable's member holds. */
function stringNode(doc: BicepDocument, node: Node): Node {
  if (node.type === "string") return node;
  const vars = variables(doc);
  if (node.type === "identifier" && vars.has(node.text)) return stringNode(doc, vars.get(node.text)!);
  if (node.type === "member_expression") {
    const object = node.childForFieldName("object");
    const member = node.childForFieldName("property");
    const value = object?.type === "identifier" && member ? property(vars.get(object.text), member.text) : undefined;
    if (value) return stringNode(doc, value);
  }
  throw new Error(`${at(doc, node)}: cannot read the query ${JSON.stringify(node.text)} (not a string, a variable or a variable's member)`);
}

/** The function's parameter names, in order. */
function functionParameters(fn: Node): string[] {
  const list = named(fn).find((c) => c.type === "parameters");
  return list ? named(list).map((p) => named(p)[0]!.text) : [];
}

/** Every call of the user-defined function `name`: its argument nodes. */
function callsOf(doc: BicepDocument, name: string): Node[][] {
  const found: Node[][] = [];
  walk(doc.root, (n) => {
    const c = call(n);
    if (c?.name === name) found.push(c.args);
  });
  return found;
}

function owner(node: Node): string {
  const resource = ancestor(node, "resource_declaration");
  if (resource) return named(resource)[0]!.text;
  const variable = ancestor(node, "variable_declaration");
  return variable ? named(variable)[0]!.text : "";
}

/** Every `query` property's value in the file, evaluated (see the top of this file). */
export function kqlQueries(doc: BicepDocument, samples: InterpolationSamples = {}): BicepKqlQuery[] {
  const queries: BicepKqlQuery[] = [];
  walk(doc.root, (object) => {
    if (object.type !== "object") return;
    for (const { key, value } of objectEntries(object)) {
      if (key !== "query") continue;
      const fn = value.type === "identifier" ? ancestor(value, "user_defined_function") : undefined;
      const index = fn ? functionParameters(fn).indexOf(value.text) : -1;
      if (fn && index >= 0) {
        const fnName = fn.childForFieldName("name")!.text;
        const calls = callsOf(doc, fnName);
        if (calls.length === 0) throw new Error(`${at(doc, fn)}: ${fnName} is never called`);
        for (const args of calls) {
          const arg = args[index];
          if (!arg) throw new Error(`${at(doc, fn)}: a call of ${fnName} has no argument ${value.text}`);
          const node = stringNode(doc, arg);
          queries.push({ name: `${at(doc, arg)} ${fnName}(…${arg.text}…)`, text: evaluateString(doc, node, samples), node });
        }
      } else {
        const node = stringNode(doc, value);
        queries.push({ name: `${at(doc, value)} ${owner(value)}`.trimEnd(), text: evaluateString(doc, node, samples), node });
      }
    }
  });
  return queries;
}

/** Every string in the file whose text starts with one of `tables` and a pipe (or ends there): KQL by its look. */
export function kqlLookingStrings(doc: BicepDocument, tables: readonly string[]): Node[] {
  const start = new RegExp(`^\\s*(${tables.join("|")})\\s*(\\||$)`);
  const found: Node[] = [];
  walk(doc.root, (n) => {
    if (n.type !== "string") return;
    const first = named(n)[0];
    const text = n.text.startsWith("'''") ? n.text.slice(3) : first?.type === "string_content" ? first.text : "";
    if (start.test(text)) found.push(n);
  });
  return found;
}
