"""Pod volumes on the node: emptyDir, hostPath and the API data volumes (configMap, secret,
downwardAPI, projected), laid out under ``<root_dir>/pods/<uid>/volumes`` as upstream's kubelet
does. `kubelet.pod_inputs` is the entry point the pod worker uses."""
