"""The program's stack transforms under the renderer: kept in the recording, never served.

Under the engine, every Kubernetes object the program registers passes through the transform that
says how it is applied (``pulumi.com/patchForce``, and ``pulumi.com/skipAwait`` on a cluster that
runs no pods). The mock runtime never runs transforms, so the renderer keeps them in the recording,
where they can be run by hand, instead of letting the SDK serve them to an engine that is not there.
"""

from __future__ import annotations

import runpy
from typing import Any

import pulumi
import pulumi.runtime
import pytest

from automation.render.render import PROGRAM, PROJECT_DIR, render_program
from automation.render.runtime import Recording, run_program


def _run_example(stack: str = "dev") -> Recording:
    return run_program(
        lambda: runpy.run_path(str(PROGRAM), run_name="__main__"),
        stack=stack,
        config={"driftless:stackFile": str(PROJECT_DIR / "stacks" / f"{stack}.yaml")},
    )


def _transformed(recording: Recording, type_token: str, props: dict[str, Any]) -> Any:
    [transform] = recording.transforms
    return transform(
        pulumi.ResourceTransformArgs(
            custom=True, type_=type_token, name="web", props=props, opts=pulumi.ResourceOptions()
        )
    )


def test_every_kubernetes_object_is_applied_with_force_and_keeps_its_own_annotations() -> None:
    recording = _run_example()
    assert recording.resources  # the program ran to the end

    result = _transformed(
        recording,
        "kubernetes:apps/v1:Deployment",
        {"metadata": {"name": "web", "annotations": {"team": "shop"}}, "spec": {}},
    )
    assert result.props["metadata"] == {
        "name": "web",
        "annotations": {"team": "shop", "pulumi.com/patchForce": "true"},
    }
    assert result.props["spec"] == {}


def test_other_resources_are_left_alone() -> None:
    assert _transformed(_run_example(), "tls:index/privateKey:PrivateKey", {"algorithm": "ED25519"}) is None


def test_a_cluster_that_runs_no_pods_gets_no_readiness_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLESS_SKIP_AWAIT", "true")
    result = _transformed(_run_example(), "kubernetes:core/v1:Service", {"metadata": {"name": "web"}})
    assert result.props["metadata"]["annotations"] == {
        "pulumi.com/patchForce": "true",
        "pulumi.com/skipAwait": "true",
    }


def test_the_sdk_serves_transforms_again_once_a_render_is_over_even_a_failed_one() -> None:
    def failing() -> None:
        pulumi.runtime.register_resource_transform(lambda args: None)
        raise RuntimeError("the program broke")

    assert not render_program(failing, stack="dev").ok
    assert pulumi.runtime.register_resource_transform is pulumi.runtime.stack.register_resource_transform
