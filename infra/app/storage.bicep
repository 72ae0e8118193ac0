// The app's storage: the Functions host (AzureWebJobsStorage), the Durable Functions task hub (queues, tables,
// blobs; the Azure Storage backend is the one Flex Consumption supports) and the deployment package container.
// No account keys: shared-key access is off, so every client authenticates with Entra ID.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the account.')
param location string

@description('Tags for the account.')
param tags object = {}

@description('Blob container Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Principal id of the Function App identity.')
param appPrincipalId string

@description('Optional: a developer (azd\'s signed-in user) given the same data roles, to run the app locally against this account.')
param developerPrincipalId string = ''

// What the Functions host and Durable Functions need on AzureWebJobsStorage with an identity: blobs (host
// leases, task hub payloads, the deployment package), queues (control and work-item queues), tables
// (instance history and state). Blob Data Owner rather than Contributor: the host's own documented role.
var dataRoles = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Flex Consumption without virtual network integration reaches its storage over the public endpoint.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource appGrants 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in dataRoles: {
    name: guid(account.id, appPrincipalId, role)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      description: 'aks-bluegreen: Functions host and Durable Functions task hub'
    }
  }
]

resource developerGrants 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in (empty(developerPrincipalId) ? [] : dataRoles): {
    name: guid(account.id, developerPrincipalId, role)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: developerPrincipalId
      description: 'aks-bluegreen: a developer runs the app locally against this account'
    }
  }
]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainer.name
