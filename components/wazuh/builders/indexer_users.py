"""Loading rotated indexer users: the request to the OpenSearch security REST API, and its Job.

The indexer reads internal_users.yml only when its security index is created; later changes to the
file change nothing. ``securityadmin.sh -t internalusers`` would load it, but it replaces the whole
user database, users created in the dashboard included. The security REST API changes one field of
one user instead: ``PATCH _plugins/_security/api/internalusers`` with a JSON Patch that sets the
``hash`` of exactly the users the cluster owns (``admin`` and ``kibanaserver``), sent with the
admin client certificate (the ``admin_dn`` of opensearch.yml, which may change reserved users).

The request is a Job named by a keyed hash of those users' passwords (see
:meth:`Names.indexer_users_job`): a new password is a new Job, which runs once; the same passwords
keep the Job that already ran. It sends the same hashes the Secret's internal_users.yml holds, so
on a new cluster it only repeats what the indexer loaded itself. Kubernetes retries a failed
request with backoff (the indexer may still be starting); a refusal (a 4xx other than 408 and 429)
fails the Job at once, since sending the same request again cannot succeed.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.wazuh.builders.common import (
    Deferred,
    component_labels,
    image,
    pod_pull_settings,
    secret_volume,
    workload_meta,
)
from components.wazuh.builders.names import DASHBOARD_USER, INDEXER_ADMIN_USER, Names, indexer_url
from components.wazuh.spec import WazuhClusterSpec

INTERNAL_USERS_PATH = "/_plugins/_security/api/internalusers"
METHOD = "PATCH"
HEADERS = {"Content-Type": "application/json"}
# The Secret key (in the indexer-security Secret) that holds the request body.
PATCH_KEY = "internalusers-patch.json"
CERTS_DIR = "/usr/share/wazuh-indexer/config/certs"
REQUEST_DIR = "/usr/share/wazuh-indexer/request"
# The files of the indexer-certs Secret the Job mounts: the admin client pair and the CA only.
CERT_FILES = ("root-ca.pem", "admin.pem", "admin-key.pem")
# The Job's exit code for a refused request: the pod failure policy fails the Job without retrying.
REFUSED_EXIT_CODE = 2
BACKOFF_LIMIT = 12  # ~45 minutes of retries (10 s doubling to 6 min) while the indexer starts
INDEXER_UID = 1000


@dataclass(frozen=True)
class UsersRequest:
    """The HTTP request that loads the cluster's indexer users, as the Job sends it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: str


def internal_users_patch(admin_hash: str, dashboard_hash: str) -> str:
    """The JSON Patch setting the bcrypt hash of each user the cluster owns, and nothing else.

    ``add`` on an existing member replaces it (RFC 6902), so backend roles, descriptions and
    every other user stay as they are.
    """
    operations = [
        {"op": "add", "path": f"/{INDEXER_ADMIN_USER}/hash", "value": admin_hash},
        {"op": "add", "path": f"/{DASHBOARD_USER}/hash", "value": dashboard_hash},
    ]
    return json.dumps(operations, indent=1)


def users_request(names: Names, admin_hash: str, dashboard_hash: str) -> UsersRequest:
    """The request to the indexer's client Service (its certificate names it)."""
    return UsersRequest(
        method=METHOD,
        url=f"{indexer_url(names)}{INTERNAL_USERS_PATH}",
        headers=dict(HEADERS),
        body=internal_users_patch(admin_hash, dashboard_hash),
    )


def users_script() -> str:
    """The Job's shell script: send the request, print the answer, and exit 0 (loaded),
    :data:`REFUSED_EXIT_CODE` (refused: do not retry) or 1 (not reached or failed: retry).

    Where it sends the request and which files it reads come from the environment
    (:func:`users_environment`).
    """
    headers = " ".join(f"--header {shlex.quote(f'{key}: {value}')}" for key, value in HEADERS.items())
    return f"""\
set -u
response=$(mktemp)
code=$(curl --silent --show-error --output "$response" --write-out '%{{http_code}}' \\
  --request {METHOD} {headers} \\
  --cacert "$CERTS_DIR/root-ca.pem" --cert "$CERTS_DIR/admin.pem" --key "$CERTS_DIR/admin-key.pem" \\
  --data-binary "@$PATCH_FILE" "$INDEXER_URL{INTERNAL_USERS_PATH}")
echo "{METHOD} {INTERNAL_USERS_PATH}: HTTP $code"
cat "$response"; echo
case "$code" in
  200) exit 0 ;;
  408|429) exit 1 ;;
  4??) exit {REFUSED_EXIT_CODE} ;;
  *) exit 1 ;;
esac
"""


def users_environment(names: Names) -> dict[str, str]:
    """Where the script sends the request, and where it finds the certificates and the body."""
    return {
        "INDEXER_URL": indexer_url(names),
        "CERTS_DIR": CERTS_DIR,
        "PATCH_FILE": f"{REQUEST_DIR}/{PATCH_KEY}",
    }


def indexer_users_job(
    spec: WazuhClusterSpec,
    names: Names,
    job_name: Deferred,
    await_annotations: Mapping[str, str],
) -> dict[str, Any]:
    """The Job that sends :func:`users_request` from the indexer image (it has curl)."""
    container = {
        "name": "load-indexer-users",
        "image": image(spec, "wazuh-indexer"),
        "command": ["/bin/sh", "-c", users_script()],
        "env": [{"name": key, "value": value} for key, value in users_environment(names).items()],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
        "volumeMounts": [
            {"name": "admin-certs", "mountPath": CERTS_DIR, "readOnly": True},
            {"name": "request", "mountPath": REQUEST_DIR, "readOnly": True},
        ],
    }
    certs = secret_volume("admin-certs", names.indexer_certs)
    certs["secret"]["items"] = [{"key": key, "path": key} for key in CERT_FILES]
    request = secret_volume("request", names.indexer_security)
    request["secret"]["items"] = [{"key": PATCH_KEY, "path": PATCH_KEY}]
    pod_spec = {
        # The image's user reads the owner-only Secret files through the fsGroup.
        "securityContext": {"runAsUser": INDEXER_UID, "runAsGroup": INDEXER_UID, "fsGroup": INDEXER_UID},
        **pod_pull_settings(spec),
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [certs, request],
    }
    metadata = workload_meta(names, names.indexer_users, "wazuh-indexer-users", None, await_annotations)
    metadata["name"] = job_name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": container["name"],
                            "operator": "In",
                            "values": [REFUSED_EXIT_CODE],
                        },
                    }
                ]
            },
            "template": {
                "metadata": {"labels": component_labels(names, "wazuh-indexer-users")},
                "spec": pod_spec,
            },
        },
    }
