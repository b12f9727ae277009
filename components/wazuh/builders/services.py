"""Every Service of the cluster, in one table: what clients and peers can reach, and on which port.

Headless Services give the StatefulSets' pods stable DNS names (discovery, and the SANs the
certificates carry); client Services carry upstream's names and ports. The manager's and the
dashboard's client Services are exposed as the spec's ``service`` blocks say (LoadBalancer by
default, as upstream); the indexer's stays inside the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.common.objects import object_meta
from components.wazuh.builders.common import component_labels, selector
from components.wazuh.builders.names import (
    AGENTS_PORT,
    API_PORT,
    CLUSTER_PORT,
    DASHBOARD_PORT,
    DASHBOARD_SERVICE_PORT,
    INDEXER_REST_PORT,
    INDEXER_TRANSPORT_PORT,
    REGISTRATION_PORT,
    Names,
)
from components.wazuh.spec import ServiceSpec, WazuhClusterSpec


def _service(
    names: Names,
    name: str,
    component: str,
    node_type: str | None,
    ports: Mapping[str, int],
    *,
    headless: bool = False,
    target_port: int | None = None,
    exposure: ServiceSpec | None = None,
) -> dict[str, Any]:
    """A TCP Service selecting ``component``'s pods (of ``node_type``, if given).

    ``ports`` maps port names to numbers; each targets the same container port unless
    ``target_port`` says otherwise. ``exposure`` (the spec's ``service`` block) sets the type,
    annotations, source ranges and node ports of a client Service; without it, ClusterIP.
    """
    node_ports = exposure.node_ports if exposure is not None else {}
    spec: dict[str, Any] = {
        "selector": selector(names, component, node_type),
        "ports": [
            {
                "name": port_name,
                "port": port,
                "targetPort": port if target_port is None else target_port,
                "protocol": "TCP",
                **({"nodePort": node_ports[port_name]} if port_name in node_ports else {}),
            }
            for port_name, port in ports.items()
        ],
    }
    if headless:
        spec["clusterIP"] = "None"
        # Peers must find each other before they are ready: discovery is what makes them ready.
        spec["publishNotReadyAddresses"] = True
    else:
        spec["type"] = exposure.type if exposure is not None else "ClusterIP"
    if exposure is not None and exposure.load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = list(exposure.load_balancer_source_ranges)
    annotations = dict(exposure.annotations) if exposure is not None else None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(name, names.namespace, component_labels(names, component), annotations),
        "spec": spec,
    }


def services(spec: WazuhClusterSpec, names: Names) -> list[dict[str, Any]]:
    """Headless Services for the StatefulSets and client Services with upstream's ports."""
    indexer, manager = "wazuh-indexer", "wazuh-manager"
    result = [
        _service(
            names, names.indexer, indexer, None, {"indexer-nodes": INDEXER_TRANSPORT_PORT}, headless=True
        ),
        _service(names, names.indexer_api, indexer, None, {"indexer-rest": INDEXER_REST_PORT}),
        _service(names, names.manager_cluster, manager, None, {"cluster": CLUSTER_PORT}, headless=True),
        _service(
            names,
            names.manager,
            manager,
            "master",
            {"registration": REGISTRATION_PORT, "api": API_PORT},
            exposure=spec.manager.service,
        ),
        _service(
            names,
            names.manager_workers,
            manager,
            "worker",
            {"agents-events": AGENTS_PORT},
            exposure=spec.manager.service,
        ),
    ]
    if spec.dashboard.enabled:
        # Clients use the HTTPS port; the container listens on the dashboard's own.
        dashboard_ports = {"dashboard": DASHBOARD_SERVICE_PORT}
        result.append(
            _service(
                names,
                names.dashboard,
                "wazuh-dashboard",
                None,
                dashboard_ports,
                target_port=DASHBOARD_PORT,
                exposure=spec.dashboard.service,
            )
        )
    return result
