// aks-bluegreen on Azure: the Function App (Flex Consumption, Python 3.11) with its identity, storage, monitoring
// and App Service Authentication, and the least-privilege access it needs on each environment's resources.
// `azd up` deploys it; the postdeploy hook (infra/hooks/postdeploy.py) then wires Event Grid and the Front Door
// rollback alerts, which need the app's keys. See infra/README-deploy.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource (one that offers Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the user running azd (azd sets AZURE_PRINCIPAL_ID); used only with allowDeveloperStorageAccess.')
param principalId string = ''

@description('Give principalId the app\'s storage data roles, to run the app locally against the real task hub.')
param allowDeveloperStorageAccess bool = false

@description('Resource group to create; empty: rg-ENVIRONMENT.')
param resourceGroupName string = ''

@description('Function App name (its host name is NAME.azurewebsites.net); empty: derived from the environment. Choose it up front to register the Easy Auth redirect URI before the first deployment.')
param functionAppName string = ''

@description('The environments file the app reads (BLUEGREEN_CONFIG), relative to the project root, deployed with the app.')
param environmentsFile string = 'environments.toml'

@description('Application (client) id of the Entra app registration Easy Auth accepts tokens for (see infra/README-deploy.md).')
@minLength(36)
@maxLength(36)
param authClientId string

@description('Tenant of that app registration; empty: the deployment\'s tenant.')
param authTenantId string = ''

@description('Resource group ids (/subscriptions/SUB/resourceGroups/NAME) the app operates on: every environment\'s clusters, Front Door profile, metrics (Application Insights) and the resources blue\'s identities are granted on. Each once.')
param operatorScopes array = []

@description('Role definition GUIDs the app may assign to green\'s identities on the operator scopes: the roles blue\'s identities hold (e.g. AcrPull 7f951dda-4ed3-4680-a7ca-43fe172d538d, Key Vault Secrets User 4633458b-17de-408a-b874-0445c86b69e6).')
param grantableRoleIds array = []

@description('Extra app settings as a JSON object (e.g. what `appsetting:NAME` secret references name, as Key Vault references; BLUEGREEN_PUBLIC_URL behind a custom domain). A string, so that an unset azd value is simply empty. Settings added by hand do not survive a provision: the template sets the whole list.')
param additionalAppSettingsJson string = ''

@description('Key of the web pages\' form tokens (BLUEGREEN_UI_KEY), e.g. a Key Vault reference; empty: generatedUiKey.')
@secure()
param uiKey string = ''

@description('Used when uiKey is empty: a new random key per deployment (pages open across a deployment reload once).')
@secure()
param generatedUiKey string = newGuid()

@description('Memory of each Function App instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the Function App scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'aks-bluegreen'
}
var appName = empty(functionAppName) ? 'func-bluegreen-${resourceToken}' : functionAppName
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-bluegreen-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-bluegreen-${resourceToken}'
    applicationInsightsName: 'appi-bluegreen-${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stbg${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    appPrincipalId: identity.outputs.principalId
    developerPrincipalId: allowDeveloperStorageAccess ? principalId : ''
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: appName
    planName: 'plan-bluegreen-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    // Outputs of the storage module: the app is created only once its identity holds the data roles.
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    environmentsFile: environmentsFile
    authClientId: authClientId
    authTenantId: authTenantId
    additionalAppSettings: empty(additionalAppSettingsJson) ? {} : json(additionalAppSettingsJson)
    uiKey: empty(uiKey) ? generatedUiKey : uiKey
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

module operatorRole 'app/role.bicep' = if (!empty(operatorScopes)) {
  name: 'bluegreen-role-${resourceToken}'
  params: {
    environmentName: environmentName
    assignableScopes: operatorScopes
  }
}

// One deployment per operator scope: a role assignment at resource-group scope is deployed to that group. The
// names carry the environment's token: two environments may share an operator scope.
module operatorAccess 'app/operator-access.bicep' = [
  for (scopeId, i) in operatorScopes: {
    name: 'bluegreen-access-${resourceToken}-${i}'
    scope: resourceGroup(split(scopeId, '/')[2], split(scopeId, '/')[4])
    params: {
      principalId: identity.outputs.principalId
      operatorRoleDefinitionId: operatorRole.outputs.id
      grantableRoleIds: grantableRoleIds
    }
  }
]

var hostName = api.outputs.defaultHostName

// azd stores every output in the environment (`azd env get-values`) and exports them to the hooks.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_ID string = api.outputs.id
output AZURE_FUNCTION_APP_HOSTNAME string = hostName
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${hostName}'
output AZURE_IDENTITY_ID string = identity.outputs.id
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_APPLICATION_INSIGHTS_ID string = monitoring.outputs.applicationInsightsId
output AZURE_LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceId
output AZURE_AUTH_CLIENT_ID string = authClientId
output AZURE_AUTH_REDIRECT_URI string = 'https://${hostName}/.auth/login/aad/callback'
// What the postdeploy hook wires (the keys it adds itself; the hook reads BLUEGREEN_CONFIG for the environments).
output BLUEGREEN_CONFIG string = environmentsFile
output ALERT_ACTION_GROUP_NAME string = 'ag-${api.outputs.name}-rollback'
output ALERT_ACTION_GROUP_SHORT_NAME string = 'bluegreen'
output ALERT_FUNCTION_NAME string = 'monitor_alerts'
output ALERT_WEBHOOK_URL string = 'https://${hostName}/api/alerts'
output EVENTGRID_FUNCTION_NAME string = 'aks_lifecycle_events'
output EVENTGRID_WEBHOOK_URL string = 'https://${hostName}/runtime/webhooks/eventgrid?functionName=aks_lifecycle_events'
output OPERATOR_ROLE_DEFINITION_ID string = empty(operatorScopes) ? '' : operatorRole.outputs.id
output OPERATOR_SCOPES array = operatorScopes
