"""The ``driftless:kapsa:Registry`` component: where project images are pushed, with which credentials.

The credentials are a ``kubernetes.io/dockerconfigjson`` Secret referenced by name, never written
in the document. The component reads the live Secret (``up`` fails, naming it, when it is missing)
and reports whether it has the right type. Whether the registry *accepts* the credentials needs a
network call, which a render must never make: the daemon runs
:func:`components.kapsa.registry_check.verify_registry` against what ``status.verify`` names.
``status.verified`` is therefore always False here, with a ``Verified`` condition of status
Unknown that says the daemon decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.health import from_condition
from components.common.kubernetes import child
from components.kapsa.builders import DOCKER_CONFIG_TYPE
from components.kapsa.names import child_name
from components.kapsa.spec import RegistrySpec

TYPE_TOKEN = "driftless:kapsa:Registry"


@dataclass(frozen=True)
class RegistryArgs:
    spec: RegistrySpec


def registry_status(spec: RegistrySpec, secret_type: str | None) -> dict[str, Any]:
    """The Registry's status given the live type of its credentials Secret (pure)."""
    reference = f"{spec.credentials_namespace}/{spec.credentials_secret}"
    scheme = "http" if spec.insecure else "https"
    if secret_type == DOCKER_CONFIG_TYPE:
        condition = {
            "type": "CredentialsFound",
            "status": "True",
            "reason": "SecretFound",
            "message": f"Secret {reference} is a {DOCKER_CONFIG_TYPE} Secret",
        }
    else:
        condition = {
            "type": "CredentialsFound",
            "status": "False",
            "reason": "WrongSecretType",
            "message": (
                f"Secret {reference} has type {secret_type or 'Opaque'!r}; kpack and the kubelet need "
                f"{DOCKER_CONFIG_TYPE} (kubectl create secret docker-registry)"
            ),
        }
    return {
        **from_condition(condition),
        "server": spec.server,
        "repositoryPrefix": spec.repository_prefix,
        "credentialsSecret": reference,
        "conditions": [
            condition,
            {
                "type": "Verified",
                "status": "Unknown",
                "reason": "AwaitingRegistryCheck",
                "message": f"the daemon checks the credentials against {scheme}://{spec.server}/v2/",
            },
        ],
        "verified": False,
        "verify": {
            "server": spec.server,
            "scheme": scheme,
            "credentialsSecret": {"namespace": spec.credentials_namespace, "name": spec.credentials_secret},
        },
    }


class Registry(pulumi.ComponentResource):
    """A Registry (see the module docstring)."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args.spec
        secret = k8s.core.v1.Secret.get(
            child_name(name, "credentials"),
            id=f"{spec.credentials_namespace}/{spec.credentials_secret}",
            opts=child(self),
        )
        # Only the type leaves the read; the data stays inside the Secret resource's state.
        self.status = secret.type.apply(lambda secret_type: registry_status(spec, secret_type))
        self.register_outputs({"status": self.status})
