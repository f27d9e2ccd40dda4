/**
 * The tables of an Application Insights resource as its log queries see them (the workbook and the
 * log alerts are scoped to the component, so they read these names, not the workspace's App* ones),
 * with their columns and types as Microsoft documents them: "Migrate to workspace-based Application
 * Insights resources", section "Table schemas", the ApplicationInsights columns of each table
 * (https://learn.microsoft.com/azure/azure-monitor/app/convert-classic-resource#table-schemas).
 *
 * Written in the Kusto schema notation `(name:type, ...)` that the Kusto language service reads.
 * The documented type of `success` (requests, dependencies) is string; the language service accepts
 * comparing it to a bool, as the service does.
 */

/** The columns every table has. */
const COMMON = [
  "appId:string",
  "application_Version:string",
  "appName:string",
  "client_Browser:string",
  "client_City:string",
  "client_CountryOrRegion:string",
  "client_IP:string",
  "client_Model:string",
  "client_OS:string",
  "client_StateOrProvince:string",
  "client_Type:string",
  "cloud_RoleInstance:string",
  "cloud_RoleName:string",
  "customDimensions:dynamic",
  "iKey:string",
  "itemId:string",
  "itemType:string",
  "operation_Id:string",
  "operation_Name:string",
  "operation_ParentId:string",
  "operation_SyntheticSource:string",
  "sdkVersion:string",
  "session_Id:string",
  "timestamp:datetime",
  "user_AccountId:string",
  "user_AuthenticatedId:string",
  "user_Id:string",
];

/** The columns of every table but customMetrics. */
const ITEMS = ["customMeasurements:dynamic", "itemCount:int"];

const TABLE_COLUMNS: Record<string, string[]> = {
  customMetrics: [...COMMON, "name:string", "value:real", "valueCount:int", "valueMax:real", "valueMin:real", "valueSum:real"],
  customEvents: [...COMMON, ...ITEMS, "name:string"],
  requests: [...COMMON, ...ITEMS, "duration:real", "id:string", "name:string", "performanceBucket:string", "resultCode:string", "source:string", "success:string", "url:string"],
  dependencies: [...COMMON, ...ITEMS, "data:string", "duration:real", "id:string", "name:string", "performanceBucket:string", "resultCode:string", "success:string", "target:string", "type:string"],
  traces: [...COMMON, ...ITEMS, "message:string", "severityLevel:int"],
  exceptions: [
    ...COMMON,
    ...ITEMS,
    "assembly:string",
    "details:dynamic",
    "handledAt:string",
    "innermostAssembly:string",
    "innermostMessage:string",
    "innermostMethod:string",
    "innermostType:string",
    "message:string",
    "method:string",
    "outerAssembly:string",
    "outerMessage:string",
    "outerMethod:string",
    "outerType:string",
    "problemId:string",
    "severityLevel:int",
    "type:string",
  ],
};

/** Table name → Kusto schema string, e.g. `customMetrics` → `(appId:string, …, valueSum:real)`. */
export const APPLICATION_INSIGHTS_TABLES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(TABLE_COLUMNS).map(([table, columns]) => [table, `(${columns.join(", ")})`]),
);
