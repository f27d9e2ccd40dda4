/**
 * Microsoft's Kusto language service (@kusto/language-service-next: the C# Kusto.Language parser and
 * binder compiled to JavaScript with Bridge.NET), to parse and bind the KQL the Bicep ships against
 * the tables it reads.
 *
 * The package is two classic scripts that define globals (`Bridge`, `System`, then `Kusto`); it has
 * no module entry point. They are loaded once per process through Node's own require (not through
 * vitest's transform), minified: about 6 MB of JavaScript, a few hundred milliseconds.
 */
/// <reference types="@kusto/language-service-next" />
import { createRequire } from "node:module";

export interface KqlDiagnostic {
  severity: string;
  code: string;
  message: string;
  /** Offset of the problem in the query text. */
  start: number;
  length: number;
}

let language: typeof Kusto.Language | undefined;

function kustoLanguage(): typeof Kusto.Language {
  if (!language) {
    const require = createRequire(import.meta.url);
    require("@kusto/language-service-next/bridge.min.js");
    require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");
    language = (globalThis as unknown as { Kusto: typeof Kusto }).Kusto.Language;
  }
  return language;
}

/** The language's built-ins plus one database holding `tables` (name → `(column:type, ...)`). */
export function kustoGlobals(tables: Readonly<Record<string, string>>): Kusto.Language.GlobalState {
  const { GlobalState, Symbols } = kustoLanguage();
  const symbols = Object.entries(tables).map(([name, schema]) => new Symbols.TableSymbol.$ctor7(name, schema, null));
  return GlobalState.Default!.WithDatabase(new Symbols.DatabaseSymbol.ctor("tables", symbols))!;
}

/** Parses and binds `query` (Kusto.Language.KustoCode.ParseAndAnalyze); every diagnostic, in order. */
export function analyzeKql(query: string, globals: Kusto.Language.GlobalState): KqlDiagnostic[] {
  const diagnostics = kustoLanguage().KustoCode.ParseAndAnalyze(query, globals)!.GetDiagnostics()!;
  const found: KqlDiagnostic[] = [];
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i)!;
    found.push({ severity: d.Severity!, code: d.Code!, message: d.Message!, start: d.Start, length: d.Length });
  }
  return found;
}
