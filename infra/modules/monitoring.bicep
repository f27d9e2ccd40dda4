// Log Analytics, workspace-based Application Insights that accepts only Entra-authenticated
// telemetry (local auth off: the instrumentation key alone cannot ingest), and two log alerts:
// a failed sync run, and no successful run for a while (the app stopped running at all).

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

output applicationInsightsName string = appInsights.name
output applicationInsightsId string = appInsights.id
output workspaceId string = workspace.id
