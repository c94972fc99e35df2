"""Server-side printing: the ``meta.k8s.io/v1`` Tables ``kubectl get`` shows, built from upstream's
printers (`printers`, `workload_printers`), assembled by `tables`; `durations` writes AGE the way
kubectl users read it."""
