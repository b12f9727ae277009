"""Code shared by the domain packages: spec types, Kubernetes helpers, Vault references."""
