"""CRI (Container Runtime Interface, ``runtime.v1``) support for the kubelet, apart from the kubelet.

* :mod:`cri.client` - an asyncio gRPC client for any CRI runtime (containerd, CRI-O, a VM runtime);
* :mod:`cri.proto` / :mod:`cri.codegen` - our subset of the public ``runtime.v1`` proto and its stubs;
* :mod:`cri.containerd_config`, :mod:`cri.containerd_process` - a containerd of our own, configured alike
  from ``hack/lib/containerd.sh`` and from tests;
* :mod:`cri.images` - the node's images (busybox, pause, nginx, python, clusterdns) built from Debian
  packages (:mod:`cri.debian_packages`, :mod:`cri.oci_image`), pushed (:mod:`cri.image_push`) to the
  local registry (:mod:`cri.registry`) that containerd pulls from; :mod:`cri.image_names` normalises
  references as docker does.

Nothing here imports the API server, client library or kubelet: it is a leaf the kubelet builds on.
The stubs are generated at install time (``make``); importing ``cri.stubs`` only reads them.
"""
