"""The Arktos scheduler: places every tenant's pending pods on nodes (``python -m scheduler``).

A Python kube-scheduler: an informer-fed cache with assumed pods (`cache`), a priority queue
with backoff and an unschedulable pool (`queue`), the default profile's filters and scores
(`plugins`) run by `algorithm`, asynchronous binding (`binder`), wired together in `scheduler`.
Arktos additions: VM pods need a node with a ready VM runtime, and every tenant is scheduled by
one process that keeps tenants apart in affinity and spreading.
"""
