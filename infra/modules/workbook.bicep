// The "entra-user-sync runs" workbook: the charts of the run report (entra-user-sync report),
// from the metrics the function emits through OpenTelemetry (src/telemetry/metricNames.ts) into
// Application Insights' customMetrics. It is attached to the function app (sourceId), so it is
// listed under the function app's Workbooks, and queries the Application Insights resource.
// test/infra/workbook-drift.test.ts checks that every metric and dimension named here is emitted.

param location string
param tags object

@description('Resource id of the function app the workbook is listed under.')
param functionAppId string

@description('Resource id of the Application Insights resource the metrics are in.')
param applicationInsightsId string

@description('Display name of the workbook.')
param displayName string = 'entra-user-sync runs'

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

var queries = {
  outcomes: 'customMetrics | where name == "usersync.runs" | extend outcome = tostring(customDimensions.outcome) | summarize runs = sum(valueSum) by bin(timestamp, 1h), outcome | order by timestamp asc'
  duration: 'customMetrics | where name == "usersync.run.duration" | extend mode = tostring(customDimensions.mode) | summarize seconds = max(valueMax) by bin(timestamp, 1h), mode | order by timestamp asc'
  users: 'customMetrics | where name in ("usersync.users.read", "usersync.users.written") | extend mode = tostring(customDimensions.mode), outcome = tostring(customDimensions.outcome) | where outcome == "succeeded" and ((name == "usersync.users.read" and mode == "snapshot") or (name == "usersync.users.written" and mode == "full")) | summarize users = max(valueMax) by bin(timestamp, 1h), series = strcat(mode, iff(mode == "full", " round", "")) | order by timestamp asc'
  changes: 'customMetrics | where name == "usersync.changes" | where tostring(customDimensions.mode) == "incremental" | extend ["kind"] = case(tostring(customDimensions.change_kind) == "added", "joiners (added)", tostring(customDimensions.change_kind) == "updated", "movers (updated)", tostring(customDimensions.change_kind) == "removed", "leavers (removed)", "restored") | summarize users = sum(valueSum) by bin(timestamp, 1d), ["kind"] | order by timestamp asc'
  throttling: 'customMetrics | where name in ("usersync.graph.throttled", "usersync.graph.waited") | extend series = iff(name == "usersync.graph.throttled", "429 answers", "seconds waited") | summarize total = sum(valueSum) by bin(timestamp, 1h), series | order by timestamp asc'
  certificate: 'customMetrics | where name == "usersync.certificate.days_to_expiry" | summarize days = min(valueMin) by bin(timestamp, 1h) | order by timestamp asc'
  ages: 'customMetrics | where name in ("usersync.snapshot.age", "usersync.mirror.age") | extend series = iff(name == "usersync.snapshot.age", "snapshot age (h)", "mirror age (h)") | summarize hours = max(valueMax) by bin(timestamp, 1h), series | order by timestamp asc'
  tiles: 'customMetrics | where name in ("usersync.runs", "usersync.certificate.days_to_expiry") | summarize runs = sumif(valueSum, name == "usersync.runs"), failed = sumif(valueSum, name == "usersync.runs" and tostring(customDimensions.outcome) == "failed"), certificateDays = round(minif(valueMin, name == "usersync.certificate.days_to_expiry"), 0)'
}

var workbookContent = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      content: {
        json: '## entra-user-sync runs\nEvery run of the timer, from its OpenTelemetry metrics (docs/operations.md). The same charts, without Azure: `entra-user-sync report`.'
      }
      name: 'intro'
    }
    {
      type: 9
      content: {
        version: 'KqlParameterItem/1.0'
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
        ]
      }
      name: 'parameters'
    }
    chart('Runs, failures and certificate days in the time range', queries.tiles, 'table', applicationInsightsId)
    chart('Run outcomes', queries.outcomes, 'barchart', applicationInsightsId)
    chart('Run duration (seconds)', queries.duration, 'timechart', applicationInsightsId)
    chart('Users over time', queries.users, 'timechart', applicationInsightsId)
    chart('Joiners, movers and leavers per day', queries.changes, 'barchart', applicationInsightsId)
    chart('Throttling', queries.throttling, 'timechart', applicationInsightsId)
    chart('Certificate: days to expiry', queries.certificate, 'timechart', applicationInsightsId)
    chart('Snapshot and mirror age at the end of each run', queries.ages, 'timechart', applicationInsightsId)
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
