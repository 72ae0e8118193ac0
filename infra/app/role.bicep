// The custom role the app's identity holds on each operator scope: what aks-bluegreen does, and nothing more
// (infra/roles/bluegreen-operator.json, the Azure CLI's role definition format). Role assignments for green's
// identities are not in it: see operator-access.bicep.
targetScope = 'subscription'

@description('azd environment: one role per environment, so two environments in a subscription keep their own scopes.')
param environmentName string

@description('Where the role may be assigned: the operator scopes (resource group ids).')
@minLength(1)
param assignableScopes array

var definition = loadJsonContent('../roles/bluegreen-operator.json')

resource operator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, definition.Name, environmentName)
  properties: {
    roleName: '${definition.Name} (${environmentName})'
    description: definition.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: definition.Actions
        notActions: definition.NotActions
        dataActions: definition.DataActions
        notDataActions: definition.NotDataActions
      }
    ]
    assignableScopes: assignableScopes
  }
}

output id string = operator.id
output roleName string = operator.properties.roleName
