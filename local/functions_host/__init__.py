"""local/functions_host"""
