// The Function App on Flex Consumption (Linux, Python 3.11), its app settings and App Service Authentication.

@description('Name of the Function App (also its host name: NAME.azurewebsites.net).')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app.')
param location string

@description('Tags for the plan and the app.')
param tags object = {}

@description('Resource id of the app\'s user-assigned identity.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

@description('Storage account of AzureWebJobsStorage and the deployment package.')
param storageAccountName string

@description('Blob endpoint of that account (https://ACCOUNT.blob.core.windows.net/).')
param storageBlobEndpoint string

@description('Container of the deployment package.')
param deploymentContainerName string

@description('Application Insights component the app reports to.')
param applicationInsightsName string

@description('The environments file, relative to the app root (deployed with the app).')
param environmentsFile string

@description('Client id of the Entra app registration whose tokens Easy Auth accepts.')
param authClientId string

@description('Tenant of that app registration.')
param authTenantId string

@description('Extra app settings, e.g. the values `appsetting:NAME` secret references read (Key Vault references work: the app\'s identity resolves them). The settings below win over these.')
param additionalAppSettings object = {}

@description('Key of the web pages\' form tokens and flash cookies: one for every instance (triggers/ui_csrf.py).')
@secure()
param uiKey string

@description('Memory of each instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Every setting the app and its runtimes read. Flex Consumption takes the runtime (python 3.11) from
// functionAppConfig and sets FUNCTIONS_EXTENSION_VERSION itself: FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and WEBSITE_CONTENT* are deprecated there.
var appSettings = {
  // Host storage and the Durable Functions task hub (Azure Storage backend), identity-based: no connection string.
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Application Insights with Entra authentication (the component has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The app (bluegreen/config.py, bluegreen/azure.py): the environments file deployed with the code, real Azure.
  BLUEGREEN_CONFIG: environmentsFile
  BLUEGREEN_AZURE_MODE: 'azure'
  // DefaultAzureCredential takes the user-assigned identity with this client id.
  AZURE_CLIENT_ID: identityClientId
  // One key for all instances: a form served by one instance is accepted by another (triggers/ui_csrf.py).
  BLUEGREEN_UI_KEY: uiKey
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Defaults additionalAppSettings may replace: the public base URL the run pages are linked from (bluegreen/notify.py)
// is the app's own host, unless operators reach it through another (a custom domain, Front Door).
var overridableSettings = {
  BLUEGREEN_PUBLIC_URL: 'https://${site.properties.defaultHostName}'
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(overridableSettings, additionalAppSettings, appSettings)
}

// App Service Authentication (Easy Auth). The operator API trusts the caller only from the X-MS-CLIENT-PRINCIPAL*
// headers, which are trustworthy only when Easy Auth sits in front: it strips them from incoming requests and sets
// them from a validated token. So every path needs a Microsoft Entra token or a signed-in browser (401 without;
// the JSON routes ask for the function key too, the web pages cannot send one), except the doors machines call:
//   /api/alerts                   Azure Monitor action groups (a plain webhook cannot present an Entra token);
//   /runtime/webhooks/eventgrid   Event Grid deliveries to the aks_lifecycle_events trigger (system key).
// Those two never read the caller headers, and are guarded by their key alone.
// The GET reads (runs, environments, plans, openapi.json) need only the function key in the app, but they stay
// behind Easy Auth: they show cluster ids, timelines and who approved, and a function key is a shared secret (one
// also sits in the action group's webhook URL), so a leaked key alone must not expose them.
// /runtime/webhooks/durabletask also stays behind it: the app never hands out its URLs (they carry the system key);
// the Python Durable client reaches the host over its local endpoint, not through the front end.
var anonymousPaths = [
  '/api/alerts'
  '/runtime/webhooks/eventgrid'
]

var issuerTenant = empty(authTenantId) ? tenant().tenantId : authTenantId

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: anonymousPaths
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${issuerTenant}/v2.0'
        }
        validation: {
          // v2.0 access tokens carry the client id; v1.0 ones the application id URI.
          allowedAudiences: [
            authClientId
            'api://${authClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false // an API: callers present bearer tokens; nothing to store
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
