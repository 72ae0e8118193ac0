"""The rehearsal (`python -m bluegreen simulate`): a whole blue/green run on the emulated Azure."""
