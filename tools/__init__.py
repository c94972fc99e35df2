"""Tooling for the hack/ scripts: the cluster's credentials, static tokens and kubeconfigs.

These modules run outside every component (arktos-up.sh and setup-tenant-user.sh call
`python -m tools.pki ...`), so they import nothing from server/, client/, controllers/ or
kubelet/; import-linter checks that in `make check`. The certificates come from the `pki`
library, which the kubelet builds on too.
"""
