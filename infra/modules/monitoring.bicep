// Log Analytics, workspace-based Application Insights that accepts only Entra-authenticated
// telemetry (local auth off: the instrumentation key alone cannot ingest), and six log alerts on
// the product's own metrics (src/telemetry/metricNames.ts), split by tenant where the metric has one
// (the tenant_id dimension; "single-tenant" in single-tenant mode): a tenant's run failed (with its
// error code, consent and permission named), a tenant's mirror or snapshot too old, the client
// certificate close to expiry, messages in the poison queue, no run at all (a heartbeat), and users
// skipped as unstorable. None reads the host's `requests` rows: how the host reports invocations
// in OpenTelemetry mode has changed between host versions, and in multi-tenant mode a tenant's
// failure is an outcome, not a failed invocation. What to do for each alert: docs/operations.md.
// Every query parses and binds with the Kusto language service (test/infra/kql.test.ts).

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@description('Name of the timer function: the alerts\' resource names start with it.')
param functionName string

@description('E-mail addresses notified by the alerts. Empty: the alerts fire without notification (visible in Azure Monitor).')
param alertEmailAddresses array = []

@description('ISO 8601 duration (at most P2D) without any run before the heartbeat alert fires. Make it longer than the schedule interval.')
param expectedRunWithin string = 'PT3H'

@description('ISO 8601 duration over which a tenant\'s failed run keeps its alert fired; at least the schedule interval, so that a tenant failing at every run stays alerted.')
param runFailureWindow string = 'PT1H'

@description('The stale alert fires for a tenant whose live mirror is older than this many hours. Make it longer than the schedule interval.')
@minValue(1)
param staleMirrorAfterHours int = 3

@description('The stale alert fires for a tenant whose latest complete snapshot is older than this many hours. Make it longer than the snapshot schedule (USER_SYNC_FULL_SCHEDULE, daily by default).')
@minValue(1)
param staleSnapshotAfterHours int = 30

@description('The "certificate expiring" alert fires when the client certificate expires within this many days.')
@minValue(1)
@maxValue(365)
param certificateExpiryWarningDays int = 30

@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddresses)) {
  name: 'ag-${applicationInsightsName}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'usersync'
    enabled: true
    emailReceivers: [
      for (address, i) in alertEmailAddresses: {
        name: 'email-${i}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
  }
}

var alertActions = empty(alertEmailAddresses) ? [] : [actionGroup.id]

// The tenant in the alerts is the column tenant_id: the metric's tenant_id dimension, or
// "single-tenant" when it has none (single-tenant mode).
// A tenant's failed run: every failed part of a run (usersync.runs, outcome failed) has its error
// code (error.type); consent and permission failures (the tenant's administrator must act) are named.
// A permanent failure is an outcome, not a thrown invocation, so the host's `requests` would miss it.
resource tenantRunFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-tenant-run-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Tenant sync run failed'
    description: 'A run of a tenant failed (dimensions: tenant_id, error_type, problem = consent | permission | other). Runbook: docs/operations.md, "Tenant sync run failed".'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: runFailureWindow
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "usersync.runs" and tostring(customDimensions.outcome) == "failed" | extend tenant_id = coalesce(tostring(customDimensions.tenant_id), "single-tenant"), error_type = coalesce(tostring(customDimensions["error.type"]), "unknown") | extend problem = case(error_type == "tenant_not_consented", "consent", error_type in ("graph_forbidden", "graph_unauthorized"), "permission", "other") | summarize failures = sum(valueSum) by tenant_id, error_type, problem'
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            { name: 'tenant_id', operator: 'Include', values: ['*'] }
            { name: 'error_type', operator: 'Include', values: ['*'] }
            { name: 'problem', operator: 'Include', values: ['*'] }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
}

// A tenant's mirror or snapshot too old, from the age gauges every run ends with: the latest value
// per tenant, plus the time since it was recorded (a tenant that stopped running keeps ageing).
resource tenantStaleAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-tenant-stale'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Tenant mirror or snapshot is stale'
    description: 'A tenant\'s live mirror is older than ${staleMirrorAfterHours} h, or its latest complete snapshot older than ${staleSnapshotAfterHours} h (dimensions: tenant_id, data = mirror | snapshot). Runbook: docs/operations.md, "Tenant mirror or snapshot is stale".'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name in ("usersync.mirror.age", "usersync.snapshot.age") | extend tenant_id = coalesce(tostring(customDimensions.tenant_id), "single-tenant"), data = iff(name == "usersync.mirror.age", "mirror", "snapshot") | summarize arg_max(timestamp, valueMax) by tenant_id, data | extend hours = valueMax + (now() - timestamp) / 1h | where hours > iff(data == "mirror", ${staleMirrorAfterHours}, ${staleSnapshotAfterHours}) | project tenant_id, data, hours'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            { name: 'tenant_id', operator: 'Include', values: ['*'] }
            { name: 'data', operator: 'Include', values: ['*'] }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
}

// Every run reports the client certificate's days to expiry (GRAPH_CREDENTIAL keyVaultCertificate).
// The window (a day) is longer than the schedule, so every evaluation sees a value; the alert does not
// resolve itself (autoMitigate false): runs that stop reporting (the heartbeat alert) leave it standing.
resource certificateExpiryAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-certificate-expiry'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Client certificate expires soon'
    description: 'The certificate the app uses to sign in to Microsoft Entra expires within ${certificateExpiryWarningDays} days. Renew it in Key Vault and register the new one on the app. Runbook: docs/operations.md, "Client certificate expires soon". Resolve the alert by hand once renewed.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT6H'
    windowSize: 'P1D'
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "usersync.certificate.days_to_expiry" | extend days = valueMin'
          timeAggregation: 'Minimum'
          metricMeasureColumn: 'days'
          operator: 'LessThan'
          threshold: certificateExpiryWarningDays
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: alertActions
    }
  }
}

// Multi-tenant mode: each scheduler pass reports the poison queue's depth. A message there is a
// tenant whose run failed maxDequeueCount times in a row (or a message that is not a tenant's).
resource poisonQueueAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-poison-queue'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Messages in the poison queue'
    description: 'The tenant queue\'s poison queue holds messages: tenants whose runs kept failing. Runbook: docs/operations.md, "Messages in the poison queue".'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: 'PT2H'
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "usersync.queue.poison" | summarize arg_max(timestamp, valueMax) | project messages = valueMax'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'messages'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
}

// The heartbeat: no run at all (succeeded, failed or skipped for the lease) within the window. No
// data is what it looks for, so it also fires for a host that never starts or a timer that stopped.
resource heartbeatAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-heartbeat'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'No user sync run at all'
    description: 'No run (of any tenant, with any outcome) within ${expectedRunWithin}: the app is stopped, not deployed, its timer stopped, or no tenant is registered. Runbook: docs/operations.md, "No user sync run at all".'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: expectedRunWithin
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name in ("usersync.runs", "usersync.runs.skipped")'
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
}

// Users a run could not store (an entity over the table's limits) and skipped, per tenant.
resource skippedUsersAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-users-skipped'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Users skipped as unstorable'
    description: 'A tenant\'s run skipped users it could not store (dimension tenant_id). Runbook: docs/operations.md, "Users skipped as unstorable".'
    severity: 3
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "usersync.users.skipped" and valueSum > 0 | extend tenant_id = coalesce(tostring(customDimensions.tenant_id), "single-tenant") | summarize users = sum(valueSum) by tenant_id'
          timeAggregation: 'Total'
          metricMeasureColumn: 'users'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            { name: 'tenant_id', operator: 'Include', values: ['*'] }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
}

output applicationInsightsName string = appInsights.name
output applicationInsightsId string = appInsights.id
output workspaceId string = workspace.id
