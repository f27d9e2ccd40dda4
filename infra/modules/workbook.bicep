// The "entra-user-sync runs" workbook: every tenant's health at a glance, and the charts of the run
// report (entra-user-sync report), from the metrics the function emits through OpenTelemetry
// (src/telemetry/metricNames.ts) into Application Insights' customMetrics and the run's span. It is
// attached to the function app (sourceId), so it is listed under the function app's Workbooks, and
// queries the Application Insights resource. A tenant parameter (all, or one) filters every query;
// bins follow the time range ({TimeRange:grain}). test/infra/workbook-drift.test.ts checks that every
// metric and dimension named here is emitted, test/infra/kql.test.ts that every query parses and binds.

param location string
param tags object

@description('Resource id of the function app the workbook is listed under.')
param functionAppId string

@description('Resource id of the Application Insights resource the metrics are in.')
param applicationInsightsId string

@description('Display name of the workbook.')
param displayName string = 'entra-user-sync runs'

@description('A tenant whose live mirror is older than this many hours is shown as stale (as the stale alert: monitoring.bicep).')
param staleMirrorAfterHours int = 3

// One chart: a query over Application Insights, drawn as `visualization`.
func chart(title string, query string, visualization string, appInsightsId string) object => {
  type: 3
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: query
    size: 0
    queryType: 0
    resourceType: 'microsoft.insights/components'
    crossComponentResources: [
      appInsightsId
    ]
    timeContextFromParameter: 'TimeRange'
    visualization: visualization
  }
  customWidth: '50'
  name: title
}

// The tenant filter and column every metric query shares: tenant_id ("single-tenant" in single-tenant mode).
var tenant = '| extend tenant_id = coalesce(tostring(customDimensions.tenant_id), "single-tenant") | where "{Tenant}" == "*" or tenant_id == "{Tenant}"'

var queries = {
  tenantList: 'customMetrics | where name == "usersync.runs" | extend tenant_id = coalesce(tostring(customDimensions.tenant_id), "single-tenant") | distinct tenant_id | order by tenant_id asc'
  tenants: 'customMetrics | where name in ("usersync.runs", "usersync.snapshot.users", "usersync.mirror.age") ${tenant} | extend outcome = tostring(customDimensions.outcome), error_type = tostring(customDimensions["error.type"]) | summarize lastSuccess = maxif(timestamp, name == "usersync.runs" and outcome == "succeeded"), lastFailure = arg_max(iff(name == "usersync.runs" and outcome == "failed", timestamp, datetime(null)), lastFailureCode = error_type), usersAt = arg_max(iff(name == "usersync.snapshot.users", timestamp, datetime(null)), users = valueMax), mirrorAt = arg_max(iff(name == "usersync.mirror.age", timestamp, datetime(null)), mirrorAgeThen = valueMax) by tenant_id | extend mirrorAgeHours = round(mirrorAgeThen + (now() - mirrorAt) / 1h, 1) | extend failing = isnotnull(lastFailure) and (isnull(lastSuccess) or lastFailure > lastSuccess) | extend consent = case(failing and lastFailureCode == "tenant_not_consented", "missing", failing and lastFailureCode in ("graph_forbidden", "graph_unauthorized"), "permission missing", isnotnull(lastSuccess), "granted", "unknown"), rank = case(failing, 0, isnull(mirrorAgeHours) or mirrorAgeHours > ${staleMirrorAfterHours}, 1, 2) | extend health = case(rank == 0, "failing", rank == 1, "stale mirror", "healthy") | order by rank asc, lastSuccess asc | project tenant_id, health, lastSuccess, lastFailure, lastFailureCode = iff(isnull(lastFailure), "", lastFailureCode), users = tolong(users), mirrorAgeHours, consent'
  failedRuns: 'union requests, dependencies | where name == "usersync.run" | extend error_type = tostring(customDimensions["error.type"]), tenant_id = coalesce(tostring(customDimensions["usersync.tenant_id"]), "single-tenant") | where isnotempty(error_type) and error_type != "run_in_progress" | where "{Tenant}" == "*" or tenant_id == "{Tenant}" | order by timestamp desc | take 100 | project timestamp, tenant_id, error_type, trigger = tostring(customDimensions["usersync.trigger"]), modes = tostring(customDimensions["usersync.modes"]), operation_Id'
  runTrace: 'union requests, dependencies, traces, exceptions | where operation_Id == "{OperationId}" | extend what = case(itemType == "trace", message, itemType == "exception", outerMessage, name) | project timestamp, itemType, what, severityLevel, success, duration, error_type = tostring(customDimensions["error.type"]) | order by timestamp asc'
  tiles: 'customMetrics | where name in ("usersync.runs", "usersync.runs.skipped", "usersync.certificate.days_to_expiry") ${tenant} | summarize runs = sumif(valueSum, name == "usersync.runs"), failed = sumif(valueSum, name == "usersync.runs" and tostring(customDimensions.outcome) == "failed"), leaseSkips = sumif(valueSum, name == "usersync.runs.skipped"), certificateDays = round(minif(valueMin, name == "usersync.certificate.days_to_expiry"), 0)'
  outcomes: 'customMetrics | where name == "usersync.runs" ${tenant} | extend outcome = tostring(customDimensions.outcome) | summarize runs = sum(valueSum) by bin(timestamp, {TimeRange:grain}), outcome | order by timestamp asc'
  duration: 'customMetrics | where name == "usersync.run.duration" ${tenant} | extend mode = tostring(customDimensions.mode) | summarize seconds = max(valueMax) by bin(timestamp, {TimeRange:grain}), mode | order by timestamp asc'
  users: 'customMetrics | where name == "usersync.snapshot.users" ${tenant} | summarize users = max(valueMax) by bin(timestamp, {TimeRange:grain}), tenant_id | order by timestamp asc'
  changes: 'customMetrics | where name == "usersync.changes" ${tenant} | where tostring(customDimensions.mode) == "incremental" | extend ["kind"] = case(tostring(customDimensions.change_kind) == "added", "joiners (added)", tostring(customDimensions.change_kind) == "updated", "movers (updated)", tostring(customDimensions.change_kind) == "removed", "leavers (removed)", "restored") | summarize users = sum(valueSum) by bin(timestamp, {TimeRange:grain}), ["kind"] | order by timestamp asc'
  throttled: 'customMetrics | where name == "usersync.graph.throttled" ${tenant} | summarize answers = sum(valueSum) by bin(timestamp, {TimeRange:grain}), tenant_id | order by timestamp asc'
  waited: 'customMetrics | where name == "usersync.graph.waited" ${tenant} | summarize seconds = sum(valueSum) by bin(timestamp, {TimeRange:grain}), tenant_id | order by timestamp asc'
  certificate: 'customMetrics | where name == "usersync.certificate.days_to_expiry" | summarize days = min(valueMin) by bin(timestamp, {TimeRange:grain}) | order by timestamp asc'
  ages: 'customMetrics | where name in ("usersync.snapshot.age", "usersync.mirror.age") ${tenant} | extend series = strcat(tenant_id, iff(name == "usersync.snapshot.age", ": snapshot age (h)", ": mirror age (h)")) | summarize hours = max(valueMax) by bin(timestamp, {TimeRange:grain}), series | order by timestamp asc'
  queue: 'customMetrics | where name in ("usersync.queue.depth", "usersync.queue.poison") | extend series = iff(name == "usersync.queue.depth", "tenant queue", "poison queue") | summarize messages = max(valueMax) by bin(timestamp, {TimeRange:grain}), series | order by timestamp asc'
}

var workbookContent = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      content: {
        json: '## entra-user-sync runs\nEvery tenant\'s health, then its runs, from the OpenTelemetry metrics and traces (docs/operations.md). Pick a failed run to see its trace and logs. The same charts, without Azure: `entra-user-sync report`.'
      }
      name: 'intro'
    }
    {
      type: 9
      content: {
        version: 'KqlParameterItem/1.0'
        crossComponentResources: [
          applicationInsightsId
        ]
        parameters: [
          {
            id: 'time-range'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            label: 'Time range'
            type: 4
            isRequired: true
            value: {
              durationMs: 1209600000
            }
            typeSettings: {
              selectableValues: [
                { durationMs: 86400000 }
                { durationMs: 604800000 }
                { durationMs: 1209600000 }
                { durationMs: 2592000000 }
              ]
            }
          }
          {
            id: 'tenant'
            version: 'KqlParameterItem/1.0'
            name: 'Tenant'
            label: 'Tenant'
            type: 2
            isRequired: true
            query: queries.tenantList
            queryType: 0
            resourceType: 'microsoft.insights/components'
            crossComponentResources: [
              applicationInsightsId
            ]
            timeContextFromParameter: 'TimeRange'
            value: 'value::all'
            typeSettings: {
              additionalResourceOptions: [
                'value::all'
              ]
              selectAllValue: '*'
              showDefault: false
            }
          }
        ]
      }
      name: 'parameters'
    }
    {
      type: 3
      content: {
        version: 'KqlItem/1.0'
        title: 'Tenants, worst first'
        query: queries.tenants
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        crossComponentResources: [
          applicationInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
        gridSettings: {
          formatters: [
            {
              columnMatch: 'health'
              formatter: 18
              formatOptions: {
                thresholdsOptions: 'icons'
                thresholdsGrid: [
                  { operator: '==', thresholdValue: 'failing', representation: 'failed', text: '{0}' }
                  { operator: '==', thresholdValue: 'stale mirror', representation: 'warning', text: '{0}' }
                  { operator: 'Default', representation: 'success', text: '{0}' }
                ]
              }
            }
          ]
        }
      }
      name: 'tenants'
    }
    {
      type: 3
      content: {
        version: 'KqlItem/1.0'
        title: 'Failed runs (select one to see its trace and logs)'
        query: queries.failedRuns
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        crossComponentResources: [
          applicationInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
        exportFieldName: 'operation_Id'
        exportParameterName: 'OperationId'
        exportDefaultValue: ''
      }
      name: 'failed-runs'
    }
    {
      type: 3
      content: {
        version: 'KqlItem/1.0'
        title: 'The selected run: its trace and logs'
        query: queries.runTrace
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        crossComponentResources: [
          applicationInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      }
      conditionalVisibility: {
        parameterName: 'OperationId'
        comparison: 'isNotEqualTo'
        value: ''
      }
      name: 'run-trace'
    }
    chart('Runs, failures, lease-contention skips and certificate days in the time range', queries.tiles, 'table', applicationInsightsId)
    chart('Tenant queue and poison queue (messages)', queries.queue, 'timechart', applicationInsightsId)
    chart('Run outcomes', queries.outcomes, 'barchart', applicationInsightsId)
    chart('Run duration (seconds)', queries.duration, 'timechart', applicationInsightsId)
    chart('Users in the latest complete snapshot, per tenant', queries.users, 'timechart', applicationInsightsId)
    chart('Joiners, movers and leavers', queries.changes, 'barchart', applicationInsightsId)
    chart('Graph 429 answers, per tenant', queries.throttled, 'barchart', applicationInsightsId)
    chart('Seconds waited for Graph (Retry-After, backoff, pacing), per tenant', queries.waited, 'barchart', applicationInsightsId)
    chart('Certificate: days to expiry', queries.certificate, 'timechart', applicationInsightsId)
    chart('Snapshot and mirror age at the end of each run (hours)', queries.ages, 'timechart', applicationInsightsId)
  ]
  fallbackResourceIds: [
    applicationInsightsId
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(functionAppId, 'entra-user-sync-runs')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: functionAppId
    serializedData: string(workbookContent)
  }
}

output workbookId string = workbook.id
