"""What a kind's outputs say was applied: the daemon keeps it after each successful ``up`` and the
next run's program reads it, which is how a WazuhCluster refuses an unsafe indexer scale-down."""

from __future__ import annotations

import json

from automation.daemon.driver import StackTarget
from automation.daemon.offline_driver import OfflineDriver
from automation.observation_store import ObservationStore
from automation.render.render import RenderOptions, RenderResult, render_stack
from automation.render.runtime import OfflineMocks
from components.registry import default_registry
from tests.automation.daemon.helpers import write_stack
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import document

SUBJECT = "WazuhCluster/siem"


def render_with_live_status(target: StackTarget) -> RenderResult:
    """The stack as an ``up`` applies it, its workloads reporting their status."""
    options = RenderOptions(mock=OfflineMocks(outputs=fakes.all_outputs()), preview=False)
    return render_stack(
        target.stack_file, stack=target.name, observations=target.observations_file, options=options
    )


def test_the_applied_indexer_replicas_are_kept_and_guard_the_next_up(make_reconciler, layout, clock):
    stack_file = layout.stacks_dir / "siem.yaml"
    path = layout.state_dir / "observations.json"
    store = ObservationStore(path)
    reconciler = make_reconciler(
        OfflineDriver(layout.state_dir, render=render_with_live_status),
        observations=store,
        registry=default_registry(),
    )

    def deploy(replicas: int, **indexer: object) -> list[str]:
        """Write the stack with that many indexer nodes, cycle until it settles: the states."""
        write_stack(stack_file, document({"indexer": {"replicas": replicas, **indexer}}))
        clock.advance(1)
        states = [{o.stack: o.state for o in reconciler.cycle()}["siem"]]
        while states[-1] not in ("unchanged", "failed") and len(states) < 4:
            states.append({o.stack: o.state for o in reconciler.cycle()}["siem"])
        return states

    def last_operation() -> dict:
        [siem] = reconciler.status_document()["stacks"]
        return siem["lastOperation"]

    # a first deploy: nothing recorded, nothing refused; what it applied is kept, in the file too,
    # and is not an input of its own: no second up
    assert deploy(5) == ["reconciled", "unchanged"]
    assert store.applied("siem", SUBJECT) == {"indexerReplicas": 5}
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["stacks"]["siem"]["applied"] == {SUBJECT: {"indexerReplicas": 5}}
    documents = reconciler.load_inputs()["siem"].documents
    assert documents is not None
    assert store.for_stack(documents, clock.now()).applied == {SUBJECT: {"indexerReplicas": 5}}

    # two nodes at once: the up fails before anything registers, and the record stays
    states = deploy(3)
    assert states[-1] == "failed", states
    operation = last_operation()
    assert operation["result"] == "failed", operation
    assert (
        "spec.indexer.replicas: scaling the indexer down from 5 (last applied) to 3" in operation["message"]
    )
    assert "allowUnsafeScaleDown" in operation["message"]
    assert store.applied("siem", SUBJECT) == {"indexerReplicas": 5}

    # one at a time goes through, and becomes what the next run compares with
    assert deploy(4)[0] == "reconciled"
    assert store.applied("siem", SUBJECT) == {"indexerReplicas": 4}
    assert deploy(3)[0] == "reconciled"
    assert store.applied("siem", SUBJECT) == {"indexerReplicas": 3}

    # below a majority of 3 only when the spec allows it
    assert deploy(1)[-1] == "failed"
    assert deploy(1, allowUnsafeScaleDown=True)[0] == "reconciled"
    assert store.applied("siem", SUBJECT) == {"indexerReplicas": 1}

    # a restarted daemon reads the record back
    assert ObservationStore(path).applied("siem", SUBJECT) == {"indexerReplicas": 1}
