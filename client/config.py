"""Where a component finds the API server and how it proves who it is: the kubeconfig.

The reader itself lives in `apis.kubeconfig`, shared with the API server (a tenant partition's
server reads the resource partitions' kubeconfigs, ``--resource-providers``); the client runtime
and the components keep importing it from here.
"""

from __future__ import annotations

from apis.kubeconfig import ClientConfig, KubeconfigError, config_for_url, config_from_flags, load_kubeconfig

__all__ = ["ClientConfig", "KubeconfigError", "config_for_url", "config_from_flags", "load_kubeconfig"]
