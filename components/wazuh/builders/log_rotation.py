"""Log rotation: a CronJob that deletes alert and archive files older than ``retentionDays`` on
every manager pod, with the ServiceAccount and Role it runs as. Off unless ``logRotation.enabled``.

It reaches the files through ``kubectl exec`` rather than a volume; ``log_rotation_script`` says why.
"""

from __future__ import annotations

from typing import Any

from components.common.objects import object_meta
from components.wazuh.builders.common import component_labels, pod_pull_settings, pulled_from, selector
from components.wazuh.builders.names import Names
from components.wazuh.spec import WazuhClusterSpec

LOG_DIRECTORIES = ("/var/ossec/logs/alerts", "/var/ossec/logs/archives")


def log_rotation_script(spec: WazuhClusterSpec, names: Names) -> str:
    """Delete alert and archive files older than retentionDays on every manager pod, via exec.

    The managers' volumes are ReadWriteOnce and mounted by their pods, so the job cannot mount
    them; it runs ``find`` inside each manager container instead (as the Wazuh operator does).
    """
    days = spec.log_rotation.retention_days
    pod_selector = ",".join(f"{key}={value}" for key, value in selector(names, "wazuh-manager").items())
    directories = " ".join(LOG_DIRECTORIES)
    return f"""set -eu
pods=$(kubectl get pods -n {names.namespace} -l {pod_selector} -o jsonpath='{{.items[*].metadata.name}}')
failed=0
for pod in $pods; do
  echo "deleting log files older than {days} days on $pod"
  kubectl exec -n {names.namespace} "$pod" -c wazuh-manager -- \\
    find {directories} -type f -mtime +{days} -delete || failed=1
  kubectl exec -n {names.namespace} "$pod" -c wazuh-manager -- \\
    find {directories} -mindepth 1 -type d -empty -delete || failed=1
done
exit $failed
"""


def log_rotation_objects(spec: WazuhClusterSpec, names: Names) -> list[dict[str, Any]]:
    """ServiceAccount, Role (list pods, exec into them), RoleBinding and the CronJob."""
    name = names.log_rotation
    job_labels = component_labels(names, "log-rotation")
    meta = object_meta(name, names.namespace, job_labels)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": names.namespace}],
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {
                "schedule": spec.log_rotation.schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {
                    "metadata": {"labels": job_labels},
                    "spec": {
                        "backoffLimit": 2,
                        "template": {
                            "metadata": {"labels": job_labels},
                            "spec": {
                                "serviceAccountName": name,
                                **pod_pull_settings(spec),
                                "restartPolicy": "OnFailure",
                                "containers": [
                                    {
                                        "name": "log-rotation",
                                        "image": pulled_from(spec.image_registry, spec.log_rotation.image),
                                        "command": ["/bin/sh", "-c", log_rotation_script(spec, names)],
                                        "resources": {
                                            "requests": {"cpu": "10m", "memory": "32Mi"},
                                            "limits": {"cpu": "200m", "memory": "128Mi"},
                                        },
                                    }
                                ],
                            },
                        },
                    },
                },
            },
        },
    ]
