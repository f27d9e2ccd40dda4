// Private networking (main.bicep, privateNetworking = true): a virtual network with one subnet for
// the function app's VNet integration (delegated to Microsoft.App/environments, as Flex Consumption
// requires) and one for private endpoints, and the private DNS zones that make the storage and
// Key Vault host names resolve to those endpoints inside the network.

param name string
param location string
param tags object

@description('Address space of the network; split into two /26 subnets (functions, private endpoints).')
param addressPrefix string

// Zone names follow the cloud (no hard-coded public-cloud host names).
var storageSuffix = environment().suffixes.storage
var privateDnsZones = {
  blob: 'privatelink.blob.${storageSuffix}'
  queue: 'privatelink.queue.${storageSuffix}'
  table: 'privatelink.table.${storageSuffix}'
  vault: 'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}'
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'functions'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 26, 0)
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 26, 1)
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in items(privateDnsZones): {
    name: zone.value
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in items(privateDnsZones): {
    parent: zones[i]
    name: name
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

output functionSubnetId string = vnet.properties.subnets[0].id
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
@description('Private DNS zone id per private endpoint group id (blob, queue, table, vault).')
output privateDnsZoneIds object = toObject(items(privateDnsZones), zone => zone.key, zone => resourceId('Microsoft.Network/privateDnsZones', zone.value))
