/**
 * The optional app settings a deployment sets when given a value: the properties of the
 * `OptionalSettings` type in infra/main.bicep (README, "Settings").
 */
import type { BicepDocument, Node } from "./bicepSyntax.js";

export function optionalSettingNames(main: BicepDocument): string[] {
  const declaration = main.root.namedChildren.find((n): n is Node => n?.type === "type_declaration" && n.namedChildren[0]?.text === "OptionalSettings");
  if (!declaration) throw new Error("infra/main.bicep declares no type OptionalSettings");
  const object = declaration.namedChildren.find((n) => n?.type === "object");
  if (!object) throw new Error("OptionalSettings is not an object type");
  return object.namedChildren.filter((n): n is Node => n?.type === "object_property").map((p) => p.namedChildren[0]!.text);
}
