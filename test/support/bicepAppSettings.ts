/**
 * The app settings infra/modules/function-app.bicep gives the function app, evaluated for given
 * parameter values, as Azure Resource Manager would: the `appsettings` config resource's union() of
 * object variables, each ternary decided, each value computed. Only the expressions the template
 * uses are understood (literals, parameters, a parameter's default when it is not given, interpolated
 * strings, string(), empty(), ==, the template's one toObject(filter(items(…))) that drops empty
 * values, and the properties of the template's resources, given by the caller); anything else fails, naming the
 * expression, so that a template change is looked at rather than guessed.
 */
import { join } from "node:path";
import { call, literal, parameters, parseBicepFile, property, resources, variables, objectEntries, type BicepDocument, type Node } from "./bicepSyntax.js";

export const FUNCTION_APP_TEMPLATE = join(import.meta.dirname, "..", "..", "infra", "modules", "function-app.bicep");

export type BicepValue = string | number | boolean;

export interface AppSettingsInputs {
  /** The module's parameters, by name. */
  parameters: Record<string, BicepValue>;
  /** Resource properties the settings read, by their expression (e.g. `appInsights.properties.ConnectionString`). */
  references: Record<string, BicepValue>;
}

function named(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null);
}

function evaluate(doc: BicepDocument, node: Node, inputs: AppSettingsInputs): BicepValue | Record<string, BicepValue> {
  const value = literal(node);
  if (value !== undefined && value !== null) return value;
  switch (node.type) {
    case "parenthesized_expression":
      return evaluate(doc, named(node)[0]!, inputs);
    case "string":
      // An interpolated string: its parts, each ${…} evaluated.
      return named(node)
        .map((part) => (part.type === "interpolation" ? String(evaluate(doc, named(part)[0]!, inputs)) : part.type === "escape_sequence" ? part.text.slice(1) : part.text))
        .join("");
    case "identifier": {
      if (node.text in inputs.parameters) return inputs.parameters[node.text]!;
      const variable = variables(doc).get(node.text);
      if (variable) return evaluate(doc, variable, inputs);
      // A parameter not given takes its default, as Azure Resource Manager does.
      const declared = parameters(doc).find((p) => p.name === node.text);
      if (declared?.defaultValue) return evaluate(doc, declared.defaultValue, inputs);
      break;
    }
    case "member_expression":
      if (node.text in inputs.references) return inputs.references[node.text]!;
      break;
    case "ternary_expression":
      return evaluate(doc, node.childForFieldName(evaluate(doc, node.childForFieldName("condition")!, inputs) === true ? "consequence" : "alternative")!, inputs);
    case "binary_expression": {
      const [left, right] = [named(node)[0]!, named(node)[named(node).length - 1]!];
      const operator = node.children.find((c) => c !== null && !c.isNamed)?.text;
      if (operator === "==") return evaluate(doc, left, inputs) === evaluate(doc, right, inputs);
      if (operator === "!=") return evaluate(doc, left, inputs) !== evaluate(doc, right, inputs);
      break;
    }
    case "object":
      return Object.fromEntries(objectEntries(node).map((e) => [e.key, evaluate(doc, e.value, inputs) as BicepValue]));
    case "call_expression": {
      const { name, args } = call(node)!;
      if (name === "string" && args.length === 1) return String(evaluate(doc, args[0]!, inputs));
      if (name === "empty" && args.length === 1) return evaluate(doc, args[0]!, inputs) === "";
      if (name === "union") return Object.assign({}, ...args.map((a) => evaluate(doc, a, inputs) as Record<string, BicepValue>));
      if (name === "toObject" && args.length === 3) {
        // toObject(filter(items(o), s => !empty(s.value)), s => s.key, s => s.value): o without its empty values.
        const filtered = call(args[0]!);
        const items = filtered?.name === "filter" && filtered.args.length === 2 ? call(filtered.args[0]!) : undefined;
        const keepsNonEmpty = /^(\w+) => !empty\(\1\.value\)$/.test(filtered?.args[1]?.text ?? "");
        if (items?.name === "items" && keepsNonEmpty && /^(\w+) => \1\.key$/.test(args[1]!.text) && /^(\w+) => \1\.value$/.test(args[2]!.text)) {
          const object = evaluate(doc, items.args[0]!, inputs);
          if (typeof object === "object") return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== ""));
        }
      }
      break;
    }
  }
  throw new Error(`${doc.path}: cannot evaluate \`${node.text.slice(0, 80)}\` (${node.type}); give it in AppSettingsInputs or teach test/support/bicepAppSettings.ts`);
}

/** Every app setting the template sets for these inputs, with its value. */
export async function functionAppSettings(inputs: AppSettingsInputs, path = FUNCTION_APP_TEMPLATE): Promise<Record<string, string>> {
  const doc = await parseBicepFile(path);
  const config = resources(doc).filter((r) => r.type === "Microsoft.Web/sites/config" && literal(property(r.body, "name")) === "appsettings");
  if (config.length !== 1) throw new Error(`${path}: expected one appsettings config resource, found ${config.length}`);
  const settings = evaluate(doc, property(config[0]!.body, "properties")!, inputs);
  if (typeof settings !== "object") throw new Error(`${path}: the appsettings properties are not an object`);
  return Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, String(value)]));
}
