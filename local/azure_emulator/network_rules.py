"""What Microsoft.Network refuses in a virtual network or subnet write, with the codes it answers.

- A prefix with host bits set: 400 InvalidCIDRNotation "The address prefix {p} in resource {id} has an invalid
  CIDR notation. For the given prefix length, the address prefix should be {network}." (code in ARM's common
  deployment errors; the wording as ARM and az print it, e.g. "should be 10.10.0.0/16").
- Text that is no address prefix at all: 400 InvalidAddressPrefixFormat (the emulator's choice of code: none is
  documented for it).
- A subnet outside the VNet's address space: 400 NetcfgSubnetRangeOutsideVnet "Subnet '{name}' is not valid
  because its IP address range is outside the IP address range of virtual network '{vnet}'." (as az prints it).
- Two subnets that overlap: 400 NetcfgSubnetRangesOverlap "Subnet '{a}' is not valid because its IP address
  range overlaps with that of an existing subnet '{b}' in virtual network '{vnet}'.".
- A subnet smaller than /29: "The smallest supported IPv4 subnet is /29" (learn.microsoft.com/azure/
  virtual-network/virtual-networks-faq): 400 NetcfgInvalidSubnet.
- No address prefix at all: 400 NoAddressPrefixOrPoolProvided (the code recent api-versions give when neither
  addressPrefix(es) nor an IPAM pool allocation is sent).
- Deleting a subnet that NICs use: 400 InUseSubnetCannotBeDeleted "Subnet {name} is in use by {ipConfiguration}
  and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See
  aka.ms/deletesubnet." (code in ARM's common deployment errors; wording as seen in terraform-provider-azurerm).
  The same for a VNet PUT whose `subnets` leave it out: a VNet PUT replaces the whole subnet list (subnets as
  child resources are removed by a redeploy that omits them; learn.microsoft.com/azure/azure-resource-manager/
  templates/child-resource-name-type).
- Changing the address range of a subnet that is in use: "If no resources are deployed within the subnet, you
  can change the address range" (learn.microsoft.com/azure/virtual-network/virtual-network-manage-subnet): 400
  InUseSubnetCannotBeUpdated.
- No location on a VNet: 400 LocationRequired (ARM).
"""

from __future__ import annotations

import ipaddress

from local.azure_emulator.errors import ArmError

SMALLEST_PREFIX = 29

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse(prefix: str, resource_id: str) -> Network:
    try:
        return ipaddress.ip_network(prefix, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise ArmError(
                400, "InvalidAddressPrefixFormat", f"Address prefix {prefix} of resource {resource_id} is not valid."
            ) from None
        raise ArmError(
            400,
            "InvalidCIDRNotation",
            f"The address prefix {prefix} in resource {resource_id} has an invalid CIDR notation. For the given "
            f"prefix length, the address prefix should be {loose}.",
        ) from None


def check_subnet_prefixes(
    name: str, vnet_name: str, subnet_id: str, prefixes: list[str], vnet_space: list[str]
) -> list[Network]:
    if not prefixes:
        raise ArmError(
            400,
            "NoAddressPrefixOrPoolProvided",
            f"Subnet {subnet_id} must have an addressPrefix, addressPrefixes or an IPAM pool prefix allocation.",
        )
    spaces = [parse(p, vnet_name) for p in vnet_space]
    nets = [parse(p, subnet_id) for p in prefixes]
    for net in nets:
        if net.version == 4 and net.prefixlen > SMALLEST_PREFIX:
            raise ArmError(
                400,
                "NetcfgInvalidSubnet",
                f"Subnet '{name}' is not valid in virtual network '{vnet_name}': the smallest supported IPv4 "
                f"subnet is /{SMALLEST_PREFIX}.",
            )
        if not any(net.version == s.version and net.subnet_of(s) for s in spaces):  # type: ignore[arg-type]
            raise ArmError(
                400,
                "NetcfgSubnetRangeOutsideVnet",
                f"Subnet '{name}' is not valid because its IP address range is outside the IP address range of "
                f"virtual network '{vnet_name}'.",
            )
    return nets


def check_overlap(name: str, nets: list[Network], others: dict[str, list[Network]], vnet_name: str) -> None:
    for other, other_nets in others.items():
        if other.lower() == name.lower():
            continue
        if any(a.version == b.version and a.overlaps(b) for a in nets for b in other_nets):
            raise ArmError(
                400,
                "NetcfgSubnetRangesOverlap",
                f"Subnet '{name}' is not valid because its IP address range overlaps with that of an existing "
                f"subnet '{other}' in virtual network '{vnet_name}'.",
            )


def in_use(name: str, first_ip_configuration: str) -> ArmError:
    return ArmError(
        400,
        "InUseSubnetCannotBeDeleted",
        f"Subnet {name} is in use by {first_ip_configuration} and cannot be deleted. In order to delete the subnet, "
        "delete all the resources within the subnet. See aka.ms/deletesubnet.",
    )


def in_use_update(name: str, first_ip_configuration: str) -> ArmError:
    return ArmError(
        400,
        "InUseSubnetCannotBeUpdated",
        f"Subnet {name} is in use by {first_ip_configuration}: its address range cannot be changed while "
        "resources are deployed in it.",
    )


def location_required() -> ArmError:
    return ArmError(400, "LocationRequired", "The location property is required for this definition.")
