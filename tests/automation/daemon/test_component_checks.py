"""The daemon's own checks of components between ups: a Registry whose credentials the registry
refuses holds its stack back (NotReady, naming it) until they are accepted again, with no up."""

from __future__ import annotations

from automation.daemon.offline_driver import OfflineDriver
from automation.observation_store import ObservationStore
from automation.observed.registry_checks import RegistryCheck
from components.registry import default_registry
from tests.automation.daemon.helpers import write_stack

REGISTRY = {
    "kind": "Registry",
    "metadata": {"name": "harbor"},
    "spec": {"server": "harbor.corp.com", "repositoryPrefix": "myapp", "credentialsSecret": "harbor-push"},
}


def test_a_registry_refusing_its_credentials_holds_the_stack_until_they_are_accepted(
    make_reconciler, layout, clock
):
    store = ObservationStore(layout.state_dir / "observations.json")
    driver = OfflineDriver(layout.state_dir)
    reconciler = make_reconciler(driver, observations=store, registry=default_registry())
    write_stack(layout.stacks_dir / "builds.yaml", REGISTRY)

    def stack() -> dict:
        [builds] = reconciler.status_document()["stacks"]
        return builds

    def ready() -> dict:
        return next(c for c in stack()["conditions"] if c["type"] == "Ready")

    assert [o.state for o in reconciler.cycle()] == ["reconciled"]
    assert stack()["phase"] == "Ready"
    applied = stack()["lastOperation"]

    store.record_registry_check(
        "harbor.corp.com", RegistryCheck(False, "harbor.corp.com refused the credentials (401)", clock.now())
    )
    clock.advance(1)
    assert [o.state for o in reconciler.cycle()] == ["unchanged"]
    assert stack()["phase"] == "NotReady"
    assert ready()["reason"] == "ComponentsNotReady"
    assert (
        "Registry/harbor (False, VerificationFailed): harbor.corp.com refused the credentials (401)"
        in (ready()["message"])
    )
    assert stack()["checks"] == [
        {
            "kind": "Registry",
            "name": "harbor",
            "ready": "False",
            "reason": "VerificationFailed",
            "message": "harbor.corp.com refused the credentials (401)",
        }
    ]
    assert stack()["lastOperation"] == applied  # no up: nothing in the stack changed

    store.record_registry_check(
        "harbor.corp.com", RegistryCheck(True, "harbor.corp.com accepted the credentials", clock.now())
    )
    clock.advance(1)
    reconciler.cycle()
    assert stack()["phase"] == "Ready"
    assert ready()["reason"] == "ChecksPassed"
    assert stack()["lastOperation"] == applied
