"""The cluster's PKI as a library: its CA, the certificates it signs, service-account keys, and
atomic writes of the files that hold them.

A leaf that imports no other package of ours: the kubelet uses it at run time (its serving
certificate, `kubelet/streaming/tls.py`) and the hack/ tooling builds on it (`tools/`,
`python -m tools.pki`). Modules: `certificates`, `atomic_file`.
"""
