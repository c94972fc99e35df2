"""Arktos's VM pods in the kubelet, in one place.

A pod with ``spec.virtualMachine`` runs as a pod whose one "container" is its VM (`kubelet.vm.pods`),
on Arktos's VM runtime (`kubelet.vm.cri_runtime`, the CRI config from `kubelet.vm.specs`); its
status is ``virtualMachineStatus`` (`kubelet.vm.pod_status`), its restart count includes reboots
and restores (`kubelet.vm.restarts`), and ``powerSpec`` is reconciled through the runtime's power
verbs. The pod sync reaches all of it through one object, `kubelet.vm.policy.VmPolicy` (its
`kubelet.runtime_policy.RuntimePolicy` for VM pods); only the kubelet's assembly
(`kubelet.kubelet`) imports this package, which the import-linter contracts check.
"""
