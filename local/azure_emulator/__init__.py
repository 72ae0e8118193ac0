"""Emulated Azure for the offline stack: ARM (AKS, Front Door Standard/Premium and classic), metrics and alerts."""

from local.azure_emulator.emulator import AzureEmulator
from local.azure_emulator.timings import Timings

__all__ = ["AzureEmulator", "Timings"]
