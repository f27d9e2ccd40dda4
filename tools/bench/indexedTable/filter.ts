/**
 * The indexed table service's `$filter` (indexedTableService.ts): the Table service's OData filter
 * language as the product writes it (the SDK's `odata` tag), parsed once into a tree, evaluated per
 * entity, and read for the key ranges a query can be limited to.
 *
 * Supported: `eq ne gt ge lt le` between a property (PartitionKey, RowKey, Timestamp or any other)
 * and a literal ('string' with '' for a quote, integers, `123L` Int64, decimals, true/false,
 * datetime'…', guid'…'), `and`, `or`, `not`, parentheses. A property an entity does not have
 * makes its comparison false (`ne` included), as the service and Azurite do. Anything else (a
 * function, arithmetic, binary literals, a comparison between two properties, or of values whose
 * types the service would compare in ways not reproduced here, e.g. an Int64 property with an
 * Int32 literal) throws UnsupportedFilter: the service answers 501, never a guessed result.
 */

export class UnsupportedFilter extends Error {}

export type EdmType = "Edm.String" | "Edm.Int32" | "Edm.Int64" | "Edm.Double" | "Edm.Boolean" | "Edm.DateTime" | "Edm.Guid" | "Edm.Binary";

export interface Typed {
  type: EdmType;
  value: string | number | boolean;
}

type Op = "eq" | "ne" | "gt" | "ge" | "lt" | "le";
export type FilterNode =
  | { kind: "and" | "or"; left: FilterNode; right: FilterNode }
  | { kind: "not"; operand: FilterNode }
  | { kind: "compare"; op: Op; property: string; literal: Typed };

const OPS = new Set<string>(["eq", "ne", "gt", "ge", "lt", "le"]);
const FLIPPED: Record<Op, Op> = { eq: "eq", ne: "ne", gt: "lt", ge: "le", lt: "gt", le: "ge" };

type Token = { kind: "word"; text: string } | { kind: "literal"; value: Typed } | { kind: "open" } | { kind: "close" };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  const quoted = (start: number): [string, number] => {
    let out = "";
    let i = start;
    for (;;) {
      const next = text.indexOf("'", i);
      if (next === -1) throw new UnsupportedFilter(`an unterminated quote in $filter at ${start - 1}`);
      out += text.slice(i, next);
      if (text[next + 1] === "'") {
        out += "'";
        i = next + 2;
      } else return [out, next + 1];
    }
  };
  while (at < text.length) {
    const c = text[at]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") at += 1;
    else if (c === "(" || c === ")") {
      tokens.push({ kind: c === "(" ? "open" : "close" });
      at += 1;
    }
    else if (c === "'") {
      const [value, end] = quoted(at + 1);
      tokens.push({ kind: "literal", value: { type: "Edm.String", value } });
      at = end;
    } else {
      const word = /^[A-Za-z_][A-Za-z0-9_]*'|^[A-Za-z_][A-Za-z0-9_.]*|^-?[0-9][0-9.eE+-]*L?/.exec(text.slice(at))?.[0];
      if (word === undefined) throw new UnsupportedFilter(`unexpected "${text.slice(at, at + 20)}" in $filter`);
      at += word.length;
      if (word.endsWith("'")) {
        const [body, end] = quoted(at);
        at = end;
        tokens.push({ kind: "literal", value: prefixedLiteral(word.slice(0, -1).toLowerCase(), body) });
      } else if (/^-?[0-9]/.test(word)) tokens.push({ kind: "literal", value: numberLiteral(word) });
      else if (word === "true" || word === "false") tokens.push({ kind: "literal", value: { type: "Edm.Boolean", value: word === "true" } });
      else tokens.push({ kind: "word", text: word });
    }
  }
  return tokens;
}

function prefixedLiteral(prefix: string, body: string): Typed {
  if (prefix === "datetime") {
    if (Number.isNaN(Date.parse(body))) throw new UnsupportedFilter(`datetime'${body}' is not a date`);
    return { type: "Edm.DateTime", value: body };
  }
  if (prefix === "guid") return { type: "Edm.Guid", value: body.toLowerCase() };
  throw new UnsupportedFilter(`${prefix}'…' literals are not supported by this benchmark store`);
}

function numberLiteral(word: string): Typed {
  if (word.endsWith("L")) {
    if (!/^-?[0-9]+L$/.test(word)) throw new UnsupportedFilter(`"${word}" is not an Int64 literal`);
    return { type: "Edm.Int64", value: word.slice(0, -1) };
  }
  const value = Number(word);
  if (!Number.isFinite(value)) throw new UnsupportedFilter(`"${word}" is not a number`);
  return { type: /^-?[0-9]+$/.test(word) && value >= -(2 ** 31) && value < 2 ** 31 ? "Edm.Int32" : "Edm.Double", value };
}

export function parseFilter(text: string): FilterNode {
  const tokens = tokenize(text);
  let at = 0;
  const peekWord = () => {
    const t = tokens[at];
    return t?.kind === "word" ? t.text : undefined;
  };
  const or = (): FilterNode => {
    let left = and();
    while (peekWord() === "or") {
      at += 1;
      left = { kind: "or", left, right: and() };
    }
    return left;
  };
  const and = (): FilterNode => {
    let left = not();
    while (peekWord() === "and") {
      at += 1;
      left = { kind: "and", left, right: not() };
    }
    return left;
  };
  const not = (): FilterNode => {
    if (peekWord() === "not") {
      at += 1;
      return { kind: "not", operand: not() };
    }
    const t = tokens[at];
    if (t?.kind === "open") {
      at += 1;
      const inner = or();
      if (tokens[at]?.kind !== "close") throw new UnsupportedFilter("a parenthesis is not closed in $filter");
      at += 1;
      return inner;
    }
    return comparison();
  };
  const comparison = (): FilterNode => {
    const [a, op, b] = [tokens[at], tokens[at + 1], tokens[at + 2]];
    at += 3;
    if (op?.kind !== "word" || !OPS.has(op.text)) throw new UnsupportedFilter(`only comparisons (eq, ne, gt, ge, lt, le) are supported, near token ${at - 2}`);
    if (a?.kind === "word" && b?.kind === "literal") return { kind: "compare", op: op.text as Op, property: a.text, literal: b.value };
    if (a?.kind === "literal" && b?.kind === "word") return { kind: "compare", op: FLIPPED[op.text as Op], property: b.text, literal: a.value };
    throw new UnsupportedFilter("a comparison must be between a property and a literal");
  };
  const tree = or();
  if (at !== tokens.length) throw new UnsupportedFilter(`unexpected text after the $filter expression (token ${at})`);
  return tree;
}

/** An entity's typed property by name; undefined when it has none. */
export type PropertyReader = (name: string) => Typed | undefined;

const isNumeric = (type: EdmType) => type === "Edm.Int32" || type === "Edm.Double";

function compareValues(property: Typed, literal: Typed): number {
  if (property.type === literal.type) {
    switch (property.type) {
      case "Edm.String":
      case "Edm.Guid":
        return ordinal(String(property.value), String(literal.value));
      case "Edm.Int32":
      case "Edm.Double":
        return Math.sign(Number(property.value) - Number(literal.value));
      case "Edm.Int64": {
        const [a, b] = [BigInt(property.value as string), BigInt(literal.value as string)];
        return a < b ? -1 : a > b ? 1 : 0;
      }
      case "Edm.DateTime":
        return Math.sign(Date.parse(String(property.value)) - Date.parse(String(literal.value)));
      case "Edm.Boolean":
        return property.value === literal.value ? 0 : property.value ? 1 : -1;
      default:
        break;
    }
  } else if (isNumeric(property.type) && isNumeric(literal.type)) return Math.sign(Number(property.value) - Number(literal.value));
  throw new UnsupportedFilter(`comparing an ${property.type} property with an ${literal.type} literal is not supported by this benchmark store`);
}

export function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function evaluate(node: FilterNode, read: PropertyReader): boolean {
  switch (node.kind) {
    case "and":
      return evaluate(node.left, read) && evaluate(node.right, read);
    case "or":
      return evaluate(node.left, read) || evaluate(node.right, read);
    case "not":
      return !evaluate(node.operand, read);
    case "compare": {
      const property = read(node.property);
      if (property === undefined) return false;
      const c = compareValues(property, node.literal);
      switch (node.op) {
        case "eq":
          return c === 0;
        case "ne":
          return c !== 0;
        case "gt":
          return c > 0;
        case "ge":
          return c >= 0;
        case "lt":
          return c < 0;
        case "le":
          return c <= 0;
      }
    }
  }
}

/** Which keys a query may touch: a range (bounds optional) or a set of exact keys. */
export type KeyConstraint =
  | { kind: "range"; low?: { key: string; inclusive: boolean }; high?: { key: string; inclusive: boolean } }
  | { kind: "points"; keys: string[] };

const ALL: KeyConstraint = { kind: "range" };

function conjuncts(node: FilterNode): FilterNode[] {
  return node.kind === "and" ? [...conjuncts(node.left), ...conjuncts(node.right)] : [node];
}

/** The keys of an `or` of `<property> eq '…'`, or undefined. */
function pointsOf(node: FilterNode, property: string): string[] | undefined {
  if (node.kind === "compare") return node.property === property && node.op === "eq" && node.literal.type === "Edm.String" ? [String(node.literal.value)] : undefined;
  if (node.kind !== "or") return undefined;
  const [left, right] = [pointsOf(node.left, property), pointsOf(node.right, property)];
  return left && right ? [...left, ...right] : undefined;
}

/**
 * The range or points of `property` (PartitionKey or RowKey) every entity the filter accepts lies
 * in, from its top-level `and`s; the whole table when it says nothing. The filter itself is still
 * evaluated on every entity read, so this only narrows what is read.
 */
export function keyConstraint(node: FilterNode | undefined, property: "PartitionKey" | "RowKey"): KeyConstraint {
  if (node === undefined) return ALL;
  let low: { key: string; inclusive: boolean } | undefined;
  let high: { key: string; inclusive: boolean } | undefined;
  let points: string[] | undefined;
  for (const part of conjuncts(node)) {
    const exact = pointsOf(part, property);
    if (exact) {
      points = points ? points.filter((key) => exact.includes(key)) : [...new Set(exact)].sort(ordinal);
      continue;
    }
    if (part.kind !== "compare" || part.property !== property || part.literal.type !== "Edm.String") continue;
    const key = String(part.literal.value);
    if (part.op === "gt" || part.op === "ge") {
      const inclusive = part.op === "ge";
      if (!low || ordinal(key, low.key) > 0 || (key === low.key && !inclusive)) low = { key, inclusive };
    } else if (part.op === "lt" || part.op === "le") {
      const inclusive = part.op === "le";
      if (!high || ordinal(key, high.key) < 0 || (key === high.key && !inclusive)) high = { key, inclusive };
    }
  }
  if (points) return { kind: "points", keys: points };
  return { kind: "range", ...(low ? { low } : {}), ...(high ? { high } : {}) };
}
