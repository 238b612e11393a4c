"""The Vigil gateway: the tenant plane and the control plane over HTTP."""
