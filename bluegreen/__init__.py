"""aks-bluegreen: blue/green Kubernetes upgrades for AKS behind Azure Front Door (domain and Azure adapters)."""
