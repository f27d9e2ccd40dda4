/**
 * The length of every function in src/ (docs/architecture.md: "no function over 80 lines, except
 * declarative tables"), read by the TypeScript compiler's parser: function declarations and
 * expressions, arrow functions, methods, constructors and accessors, nested ones counted on their
 * own (and inside the function that holds them).
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import ts from "typescript";
import { SRC, sourceFiles } from "./floors.js";
import { ROOT } from "./scriptStubs.js";

export interface FunctionLength {
  /** The file, relative to the repository root. */
  file: string;
  /** The function's name: its own, its variable's or property's, `Class.method`, or `<anonymous>`. */
  name: string;
  /** The line it starts on (1-based). */
  line: number;
  /** Its lines, from the first of its declaration (decorators and comments excluded) to its closing brace. */
  lines: number;
}

function nameOf(node: ts.SignatureDeclaration, source: ts.SourceFile): string {
  const own = node.name && !ts.isComputedPropertyName(node.name) ? node.name.getText(source) : undefined;
  const owner = ts.isClassLike(node.parent) ? (node.parent.name?.getText(source) ?? "<class>") : undefined;
  if (ts.isConstructorDeclaration(node)) return `${owner ?? "<class>"}.constructor`;
  if (own !== undefined) return owner !== undefined ? `${owner}.${own}` : own;
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && !ts.isComputedPropertyName(parent.name)) {
    return parent.name.getText(source);
  }
  return "<anonymous>";
}

/** Every function-like with a body in one source text. */
export function functionLengthsOf(text: string, file: string): FunctionLength[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file, name: nameOf(node, source), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every function-like of every file under `root` (default src/). */
export function functionLengths(root: string = SRC): FunctionLength[] {
  return sourceFiles(root).flatMap((path) => functionLengthsOf(readFileSync(path, "utf8"), relative(ROOT, path)));
}
