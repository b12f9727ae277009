"""Live status payloads as each operator writes them, shared by the piece and component tests."""

from __future__ import annotations

# Status payloads as Strimzi writes them (kafka.strimzi.io/v1 Kafka/KafkaNodePool status).
KAFKA_READY = {
    "observedGeneration": 1,
    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-21T11:58:02.101Z"}],
    "listeners": [
        {
            "name": "plain",
            "addresses": [{"host": "wandb-kafka-bootstrap.ml.svc", "port": 9092}],
            "bootstrapServers": "wandb-kafka-bootstrap.ml.svc:9092",
        }
    ],
    "kafkaNodePools": [{"name": "kafka"}],
    "clusterId": "m1DlwC3hQ2ucO2AcN_A1FQ",
    "operatorLastSuccessfulVersion": "0.49.0",
    "kafkaVersion": "4.1.0",
    "kafkaMetadataVersion": "4.1-IV1",
}
KAFKA_READY_WITH_WARNING = {
    **KAFKA_READY,
    "conditions": [
        *KAFKA_READY["conditions"],
        {
            "type": "Warning",
            "status": "True",
            "reason": "KafkaStorage",
            "message": "The storage size of node pool kafka cannot be decreased",
            "lastTransitionTime": "2026-11-21T11:58:02.101Z",
        },
    ],
}
KAFKA_CREATING = {
    "observedGeneration": 1,
    "conditions": [
        {
            "type": "NotReady",
            "status": "True",
            "reason": "Creating",
            "message": "Kafka cluster is being deployed",
            "lastTransitionTime": "2026-11-21T11:55:40.339Z",
        }
    ],
    "kafkaNodePools": [{"name": "kafka"}],
}
KAFKA_FAILED = {
    "observedGeneration": 2,
    "conditions": [
        {
            "type": "NotReady",
            "status": "True",
            "reason": "UnsupportedKafkaVersionException",
            "message": "Unsupported Kafka.spec.kafka.version: 3.8.0. Supported versions are: [4.0.0, 4.1.0]",
            "lastTransitionTime": "2026-11-21T11:56:12.004Z",
        }
    ],
}
KAFKA_NOT_SERVING = {
    "conditions": [
        {"type": "Ready", "status": "False", "reason": "TimeoutException", "message": "Brokers did not roll"}
    ]
}
KAFKA_POOL_READY = {
    "observedGeneration": 1,
    "nodeIds": [0, 1, 2],
    "clusterId": "m1DlwC3hQ2ucO2AcN_A1FQ",
    "roles": ["controller", "broker"],
    "replicas": 3,
    "labelSelector": "strimzi.io/cluster=wandb,strimzi.io/name=wandb-kafka,strimzi.io/kind=Kafka,strimzi.io/pool-name=kafka",
}
KAFKA_POOL_FAILED = {
    "conditions": [
        {
            "type": "NotReady",
            "status": "True",
            "reason": "InvalidResourceException",
            "message": "KafkaNodePool kafka has no role assigned",
        }
    ]
}

# Status payloads as the Altinity operator (0.25) writes them.
CLICKHOUSE_COMPLETED = {
    "chop-version": "0.25.6",
    "chop-commit": "50e8d04",
    "clusters": 1,
    "shards": 1,
    "replicas": 2,
    "hosts": 2,
    "status": "Completed",
    "taskID": "auto-8a5c1f0e-3b3d-4a5e-9d0c-1f2e3d4c5b6a",
    "taskIDsCompleted": ["auto-8a5c1f0e-3b3d-4a5e-9d0c-1f2e3d4c5b6a"],
    "hostsCompleted": 2,
    "pods": ["chi-wandb-default-0-0-0", "chi-wandb-default-0-1-0"],
    "fqdns": ["chi-wandb-default-0-0.ml.svc.cluster.local", "chi-wandb-default-0-1.ml.svc.cluster.local"],
    "endpoint": "clickhouse-wandb.ml.svc.cluster.local",
    "generation": 1,
}
CLICKHOUSE_COMPLETED_AFTER_AN_OLD_ERROR = {
    **CLICKHOUSE_COMPLETED,
    "errors": ["FAILED to reconcile host chi-wandb-default-0-1 (attempt 1)"],
}
CLICKHOUSE_IN_PROGRESS = {
    "chop-version": "0.25.6",
    "clusters": 1,
    "shards": 1,
    "replicas": 2,
    "hosts": 2,
    "status": "InProgress",
    "action": "Create StatefulSet: ml/chi-wandb-default-0-1 - started",
    "actions": ["reconcile started for task id auto-8a5c1f0e"],
    "hostsAdded": 1,
}
CLICKHOUSE_ABORTED = {
    "hosts": 2,
    "status": "Aborted",
    "error": "FAILED to reconcile CHI ml/wandb: StatefulSet chi-wandb-default-0-0 failed to become ready",
    "errors": ["FAILED to reconcile CHI ml/wandb: StatefulSet chi-wandb-default-0-0 failed to become ready"],
}
# A ClickHouseKeeperInstallation's status, as the same operator writes it.
KEEPER_COMPLETED = {
    "chop-version": "0.25.6",
    "chop-commit": "50e8d04",
    "clusters": 1,
    "shards": 1,
    "replicas": 3,
    "hosts": 3,
    "status": "Completed",
    "taskID": "auto-2f4e6a8c-1b3d-4c5e-8f7a-9b0c1d2e3f4a",
    "taskIDsCompleted": ["auto-2f4e6a8c-1b3d-4c5e-8f7a-9b0c1d2e3f4a"],
    "pods": ["chk-wandb-default-0-0-0", "chk-wandb-default-0-1-0", "chk-wandb-default-0-2-0"],
    "fqdns": [
        "chk-wandb-default-0-0.ml.svc.cluster.local",
        "chk-wandb-default-0-1.ml.svc.cluster.local",
        "chk-wandb-default-0-2.ml.svc.cluster.local",
    ],
    "endpoint": "keeper-wandb.ml.svc.cluster.local",
}
KEEPER_IN_PROGRESS = {
    "chop-version": "0.25.6",
    "hosts": 3,
    "status": "InProgress",
    "action": "Create StatefulSet: ml/chk-wandb-default-0-2 - started",
}
KEEPER_ABORTED = {
    "hosts": 3,
    "status": "Aborted",
    "error": "FAILED to reconcile CHK ml/wandb: StatefulSet chk-wandb-default-0-0 failed to become ready",
}

# Status payloads as the MinIO operator (v7) writes them.
MINIO_GREEN = {
    "availableReplicas": 4,
    "certificates": {"autoCertEnabled": False},
    "currentState": "Initialized",
    "drivesHealing": 0,
    "drivesOffline": 0,
    "drivesOnline": 4,
    "healthStatus": "green",
    "pools": [{"legacySecurityContext": False, "ssName": "wandb-pool-0", "state": "PoolInitialized"}],
    "provisionedUsers": True,
    "revision": 0,
    "syncVersion": "v6.0.0",
    "usage": {"capacity": 85899345920, "rawCapacity": 85899345920, "rawUsage": 4096, "usage": 0},
    "writeQuorum": 3,
}
MINIO_YELLOW = {
    **MINIO_GREEN,
    "availableReplicas": 3,
    "drivesOnline": 3,
    "drivesOffline": 1,
    "healthStatus": "yellow",
}
MINIO_RED = {
    **MINIO_GREEN,
    "availableReplicas": 1,
    "drivesOnline": 1,
    "drivesOffline": 3,
    "healthStatus": "red",
    "healthMessage": "Service Unavailable",
}
MINIO_WAITING_FOR_PODS = {
    "availableReplicas": 2,
    "certificates": {"autoCertEnabled": False},
    "currentState": "Waiting for Pods to be ready",
    "pools": [{"ssName": "wandb-pool-0", "state": "PoolCreated"}],
    "revision": 0,
    "syncVersion": "v6.0.0",
}
MINIO_INITIALIZED_UNCHECKED = {
    **MINIO_WAITING_FOR_PODS,
    "availableReplicas": 4,
    "currentState": "Initialized",
}
MINIO_SECOND_TENANT = {
    "availableReplicas": 0,
    "currentState": "Another MinIO Tenant already exists in the namespace",
    "revision": 0,
    "syncVersion": "v6.0.0",
}

# Status payloads as the Opstree redis-operator writes them for a standalone Redis: current
# releases report the running-pod check as state/reason; the v0.26 CRD's status is empty.
REDIS_READY = {"state": "Ready", "reason": "Redis is ready"}
REDIS_INITIALIZING = {"state": "Initializing", "reason": "Redis is initializing"}
REDIS_FAILED = {"state": "Failed", "reason": "Redis pod is not ready"}

# A Redis as Opstree releases up to the CRD snapshot leave it once reconciled: their finalizer on
# it, no status at all.
REDIS_RECONCILED_METADATA = {
    "name": "wandb",
    "namespace": "wandb",
    "generation": 1,
    "finalizers": ["redisFinalizer"],
}
# The StatefulSet the operator runs a standalone Redis in, as apps/v1 reports it.
REDIS_STATEFULSET_SPEC = {
    "replicas": 1,
    "serviceName": "wandb-headless",
    "podManagementPolicy": "OrderedReady",
}
REDIS_STATEFULSET_READY = {
    "observedGeneration": 1,
    "replicas": 1,
    "readyReplicas": 1,
    "currentReplicas": 1,
    "updatedReplicas": 1,
    "availableReplicas": 1,
    "currentRevision": "wandb-6c9f7d8b5",
    "updateRevision": "wandb-6c9f7d8b5",
    "collisionCount": 0,
}
REDIS_STATEFULSET_STARTING = {
    "observedGeneration": 1,
    "replicas": 1,
    "readyReplicas": 0,
    "currentReplicas": 1,
    "updatedReplicas": 1,
    "availableReplicas": 0,
    "currentRevision": "wandb-6c9f7d8b5",
    "updateRevision": "wandb-6c9f7d8b5",
    "collisionCount": 0,
}

# Status payloads as the Percona Server for MySQL operator (ps.percona.com/v1) writes them.
MYSQL_READY = {
    "mysql": {
        "size": 3,
        "ready": 3,
        "state": "ready",
        "version": "8.4.5-5",
        "imageID": "percona/percona-server@sha256:9628",
    },
    "router": {"size": 3, "ready": 3, "state": "ready"},
    "state": "ready",
    "host": "wandb-router.ml",
    "conditions": [
        {
            "type": "initializing",
            "status": "False",
            "reason": "Initializing",
            "message": "",
            "lastTransitionTime": "2026-11-21T11:59:40Z",
        },
        {
            "type": "ready",
            "status": "True",
            "reason": "Ready",
            "message": "mysql and router are ready",
            "lastTransitionTime": "2026-11-21T11:59:40Z",
        },
    ],
}
MYSQL_INITIALIZING = {
    "mysql": {"size": 3, "ready": 1, "state": "initializing"},
    "router": {"size": 3, "state": "initializing"},
    "state": "initializing",
    "conditions": [
        {
            "type": "initializing",
            "status": "True",
            "reason": "Initializing",
            "message": "",
            "lastTransitionTime": "2026-11-21T11:56:02Z",
        }
    ],
}
MYSQL_ERROR = {
    "mysql": {"size": 3, "state": "initializing"},
    "state": "error",
    "conditions": [
        {
            "type": "error",
            "status": "True",
            "reason": "ErrorReconcile",
            "message": "old failure",
            "lastTransitionTime": "2026-11-21T10:00:00Z",
        },
        {
            "type": "error",
            "status": "True",
            "reason": "ErrorReconcile",
            "message": "reconcile statefulset: mysql size should be 3 or more",
            "lastTransitionTime": "2026-11-21T11:56:30Z",
        },
    ],
}
