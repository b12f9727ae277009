"""Live objects as the provider SDK hands them over become the camelCase dicts Kubernetes writes."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.common.objects import normalize


def test_a_live_volume_with_a_field_named_items_comes_out_as_kubernetes_writes_it():
    # What a StatefulSet read hands back for a Secret volume mounted with mode 0600: the SDK's
    # output object, whose `items` field shadows the mapping's method of that name.
    volume = k8s.core.v1.outputs.Volume(
        name="certs",
        secret=k8s.core.v1.outputs.SecretVolumeSource(
            secret_name="siem-certs",
            default_mode=0o600,
            items=[k8s.core.v1.outputs.KeyToPath(key="root-ca.pem", path="root-ca.pem")],
        ),
    )

    assert normalize({"volumes": [volume]}) == {
        "volumes": [
            {
                "name": "certs",
                "secret": {
                    "secretName": "siem-certs",
                    "defaultMode": 0o600,
                    "items": [{"key": "root-ca.pem", "path": "root-ca.pem"}],
                },
            }
        ]
    }
