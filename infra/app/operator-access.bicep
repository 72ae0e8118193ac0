// What the app's identity holds on one operator scope (a resource group of an environment's clusters, its Front
// Door profile, its metrics or the resources blue's identities are granted on):
//   - the custom operator role (role.bicep);
//   - Role Based Access Control Administrator, constrained by an ABAC condition to assigning and deleting only
//     the roles in grantableRoleIds, and only to service principals: how green's new identities get blue's grants
//     (and lose them when a cluster is removed) without the app being able to grant itself or anyone else more.

@description('Principal id of the app\'s identity.')
param principalId string

@description('Resource id of the custom operator role definition.')
param operatorRoleDefinitionId string

@description('Role definition GUIDs the app may assign and delete (the roles blue\'s identities hold). Empty: no RBAC administration.')
param grantableRoleIds array = []

// Built-in role: Role Based Access Control Administrator.
var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'

var grantable = join(grantableRoleIds, ', ')

// The documented "constrain roles" condition (condition version 2.0): a write must name one of the roles and a
// service principal (the app always sets principalType ServicePrincipal); a delete may remove only such an
// assignment. Any other role assignment action stays refused.
var constrainWrite = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${grantable}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'}))'
var constrainDelete = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${grantable}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'}))'

resource operator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, operatorRoleDefinitionId)
  properties: {
    roleDefinitionId: operatorRoleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'aks-bluegreen: upgrade this scope\'s clusters and switch its Front Door'
  }
}

resource grantAdministrator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(grantableRoleIds)) {
  name: guid(resourceGroup().id, principalId, rbacAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'aks-bluegreen: give green\'s identities blue\'s grants (only the roles the condition names)'
    conditionVersion: '2.0'
    condition: '${constrainWrite} AND ${constrainDelete}'
  }
}

output scope string = resourceGroup().id
