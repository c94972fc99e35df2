"""The Pod Security Standards (privileged / baseline / restricted) as pure functions over pod JSON.

Mirrors k8s.io/pod-security-admission: `policy` reads the namespace labels into a policy,
`baseline` and `restricted` hold the checks, `evaluator` orders and versions them. The admission
plugin that applies them to requests is `server.registry.pod_security`.
"""
