// Log Analytics, workspace-based Application Insights that accepts only Entra-authenticated
// telemetry (local auth off: the instrumentation key alone cannot ingest), and four log alerts:
// a failed sync run, no successful run for a while (the app stopped running at all), a stale
// mirror (no successful round of it for a while), and a client certificate close to expiry.
// The last two read the metrics the function emits (src/telemetry/metricNames.ts); what to do
// for each alert: docs/operations.md.

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@description('Name of the timer function: failed requests with this operation name are failed sync runs.')
param functionName string

@description('E-mail addresses notified by the alerts. Empty: the alerts fire without notification (visible in Azure Monitor).')
param alertEmailAddresses array = []

@description('ISO 8601 duration without a successful run after which the "no successful run" alert fires. Make it longer than the schedule interval.')
param expectedSuccessWithin string = 'PT3H'

@description('ISO 8601 duration (at most P2D) without a successful round of the live mirror after which the "stale mirror" alert fires. Make it longer than the schedule interval.')
param expectedMirrorRoundWithin string = 'PT3H'

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

// A failed run fails the invocation, so it is a failed `requests` row named after the function.
resource failedRunAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'User sync run failed'
    description: 'A ${functionName} invocation failed. Its logs start with "User sync failed" and name the setting or permission to fix.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'requests | where operation_Name == "${functionName}" and success == false'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
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

resource noSuccessAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-no-success'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'No successful user sync run'
    description: 'No ${functionName} invocation succeeded within ${expectedSuccessWithin}: the app is failing, stopped, or not deployed.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: expectedSuccessWithin
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'requests | where operation_Name == "${functionName}" and success == true'
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

// The mirror's rounds emit usersync.runs with mode incremental (or full); none succeeding within the
// window means the mirror is going stale, even while snapshot runs still succeed.
resource staleMirrorAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-stale-mirror'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'User mirror is stale'
    description: 'No round of the live mirror (incremental or full) succeeded within ${expectedMirrorRoundWithin}: the mirror no longer follows the directory. See docs/operations.md.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT1H'
    windowSize: expectedMirrorRoundWithin
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "usersync.runs" and tostring(customDimensions.mode) in ("incremental", "full") and tostring(customDimensions.outcome) == "succeeded"'
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

// Every run reports the client certificate's days to expiry (GRAPH_CREDENTIAL keyVaultCertificate).
resource certificateExpiryAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${functionName}-certificate-expiry'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Client certificate expires soon'
    description: 'The certificate the app uses to sign in to Microsoft Entra expires within ${certificateExpiryWarningDays} days. Renew it in Key Vault and register the new one on the app (docs/operations.md).'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT6H'
    windowSize: 'PT6H'
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
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
}

output applicationInsightsName string = appInsights.name
output applicationInsightsId string = appInsights.id
output workspaceId string = workspace.id
