"""local/azure_emulator"""
