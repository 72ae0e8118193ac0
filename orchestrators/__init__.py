"""orchestrators"""
