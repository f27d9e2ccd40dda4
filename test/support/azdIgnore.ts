/**
 * The Azure Developer CLI's reading of an ignore file (`.funcignore` for a function app), ported from
 * the library azd uses, github.com/denormal/go-gitignore, so that tests can apply azd's own rules:
 *  - lexer.go / parser.go: one pattern per line; `#` at the start of a line is a comment, `!` at the
 *    start negates, `/` separates, `**` is the "any" token, a backslash escapes the next character,
 *    trailing whitespace is dropped; a malformed line is skipped (azd passes no error handler).
 *  - pattern.go, NewPattern: a leading `/` anchors the pattern, a trailing `/` limits it to
 *    directories; a pattern with `**` is an "any" pattern, one with another `/` a "path" pattern,
 *    otherwise a "name" pattern (matched against the last path element unless anchored).
 *  - gitignore.go, Relative: the patterns are tried from the last to the first; the first that matches
 *    decides (ignored unless it is negated). No match: not ignored.
 * Matching is fnmatch (github.com/danwakefield/fnmatch): `*`, `?`, `[...]` and escapes, with `/`
 * matched only literally under FNM_PATHNAME (path and any patterns).
 */

type Token = { type: "negation" | "separator" | "any" | "whitespace" | "pattern"; text: string };
type Kind = "name" | "path" | "any";
interface Pattern {
  negated: boolean;
  anchored: boolean;
  directory: boolean;
  kind: Kind;
  /** The pattern without negation, anchor and trailing separator (pattern.go `_fnmatch`). */
  glob: string;
  /** Non-separator tokens of an "any" pattern. */
  parts: Token[];
}

function lex(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === " " || c === "\t") {
      let j = i;
      while (j < line.length && (line[j] === " " || line[j] === "\t")) j++;
      tokens.push({ type: "whitespace", text: line.slice(i, j) });
      i = j;
    } else if (c === "/") {
      tokens.push({ type: "separator", text: "/" });
      i++;
    } else if (c === "*" && line[i + 1] === "*") {
      tokens.push({ type: "any", text: "**" });
      i += 2;
    } else if (c === "!" && i === 0) {
      tokens.push({ type: "negation", text: "!" });
      i++;
    } else {
      // lexer.go pattern(): up to whitespace, a separator or a `**`; an escape takes the next rune.
      let j = i;
      let text = "";
      while (j < line.length) {
        const d = line[j]!;
        if (d === " " || d === "\t" || d === "/" || (d === "*" && line[j + 1] === "*")) break;
        if (d === "\\" && j + 1 < line.length) {
          text += d + line[j + 1];
          j += 2;
          continue;
        }
        text += d;
        j++;
      }
      tokens.push({ type: "pattern", text });
      i = j;
    }
  }
  return tokens;
}

/** parser.go: the sequences it accepts (an `**` only next to separators or at the ends). */
function wellFormed(tokens: Token[]): boolean {
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    const next = tokens[k + 1];
    if (t.type === "negation" && k !== 0) return false;
    if (t.type === "any" && next && next.type !== "separator" && !(next.type === "whitespace" && k + 2 === tokens.length)) return false;
    if ((t.type === "pattern" || t.type === "whitespace") && next?.type === "any") return false;
  }
  return tokens.length > 0;
}

export function parseIgnoreFile(text: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.replace(/^\uFEFF/, "").split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.startsWith("#")) continue;
    let tokens = lex(line);
    if (!wellFormed(tokens)) continue;
    while (tokens.length > 0 && tokens[tokens.length - 1]!.type === "whitespace") tokens = tokens.slice(0, -1);
    if (tokens.length === 0) continue;
    const negated = tokens[0]!.type === "negation";
    if (negated) tokens = tokens.slice(1);
    if (tokens.length === 0) continue;
    const anchored = tokens[0]!.type === "separator";
    if (anchored) tokens = tokens.slice(1);
    if (tokens.length === 0) continue;
    const directory = tokens[tokens.length - 1]!.type === "separator";
    if (directory) tokens = tokens.slice(0, -1);
    if (tokens.length === 0) continue;
    const kind: Kind = tokens.some((t) => t.type === "any") ? "any" : tokens.some((t) => t.type === "separator") ? "path" : "name";
    patterns.push({ negated, anchored, directory, kind, glob: tokens.map((t) => t.text).join(""), parts: tokens.filter((t) => t.type !== "separator") });
  }
  return patterns;
}

/** fnmatch(pattern, string, flags) with FNM_PATHNAME or none. */
function fnmatch(glob: string, path: string, pathname: boolean): boolean {
  const anyChar = pathname ? "[^/]" : "[\\s\\S]";
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "\\" && i + 1 < glob.length) source += escapeRegExp(glob[++i]!);
    else if (c === "*") source += `${anyChar}*`;
    else if (c === "?") source += anyChar;
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) {
        source += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      if (body.includes("[:")) throw new Error(`character classes such as ${glob.slice(i, end + 1)} are not ported: extend test/support/azdIgnore.ts`);
      source += `[${negate ? "^" : ""}${body.replace(/\\/g, "\\\\").replace(/\]/g, "\\]")}${pathname && negate ? "/" : ""}]`;
      i = end;
    } else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`).test(path);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function matches(p: Pattern, path: string, isDir: boolean): boolean {
  if (p.directory && !isDir) return false;
  if (p.kind === "name") return fnmatch(p.glob, p.anchored ? path : path.split("/").pop()!, false);
  if (p.kind === "path") return fnmatch(p.glob, path, true);
  const walk = (elements: string[], tokens: Token[]): boolean => {
    if (tokens.length === 0) return elements.length === 0;
    const [token, ...rest] = tokens;
    if (token!.type === "any") return walk(elements, rest) || (elements.length > 0 && walk(elements.slice(1), tokens));
    return elements.length > 0 && fnmatch(token!.text, elements[0]!, true) && walk(elements.slice(1), rest);
  };
  return walk(path.split("/"), p.parts);
}

/**
 * gitignore.go `Relative(path, isdir)` followed by `match.Ignore()`: whether the ignore file excludes
 * the path (relative to the file's folder, `/`-separated).
 */
export function ignores(patterns: Pattern[], path: string, isDir: boolean): boolean {
  for (let i = patterns.length - 1; i >= 0; i--) if (matches(patterns[i]!, path, isDir)) return !patterns[i]!.negated;
  return false;
}
