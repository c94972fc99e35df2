"""Arktos's VM runtime: a CRI service (``runtime.v1``) that runs each "container" as a qemu virtual machine.

It is its own process (``python -m vmruntime --listen unix:///run/arktos-vm.sock --root DIR``) so the
kubelet reaches it exactly as it reaches containerd, through `cri.client`. Besides the CRI it serves
Arktos's ``VmService`` (RebootVM, CreateSnapshot, RestoreToSnapshot, SetVmPowerState). It imports only
`cri` (messages, stubs) and `apis`; never the kubelet.

Layout: `vmruntime.images` (the image store built from Debian packages), `vmruntime.initramfs` and
`vmruntime.guest` (what the guest boots and how its configuration reaches it), `vmruntime.qemu`
(the qemu command line), `vmruntime.shim` (the per-VM process that owns qemu and writes the CRI log),
`vmruntime.qmp` (the control socket), `vmruntime.records` (state on disk), `vmruntime.machines`
(lifecycle), `vmruntime.runtime_service` / `vmruntime.vm_service` (the gRPC servicers) and
`vmruntime.server`.
"""
