"""Reads of live objects under the offline renderer.

Offline, nothing can answer a read of a live object: under a preview its answer could only be
unknown, so the renderer records the read as the engine would receive it instead of registering it
through Pulumi. A read that the mocks do answer (a test's realistic live object) still goes through
Pulumi, and its answer reaches the component.
"""

from __future__ import annotations

import pulumi

from automation.render.render import PROJECT_DIR, RenderOptions, RenderResult, render_program, render_stack
from automation.render.runtime import OfflineMocks
from components.common.kubernetes import child
from components.common.live import read_live

EXAMPLE_STACKS = ("dev", "prod")


def _render(stack: str, mock: OfflineMocks | None = None) -> RenderResult:
    return render_stack(PROJECT_DIR / "stacks" / f"{stack}.yaml", options=RenderOptions(mock=mock))


def _everything(result: RenderResult) -> list[tuple[object, ...]]:
    return [(r.to_json(), r.depends_on) for r in result.resources]


def test_an_unanswered_read_is_recorded_as_the_engine_would_receive_it() -> None:
    reads = []
    for stack in EXAMPLE_STACKS:
        recorded = _render(stack)
        reads += [r for r in recorded.resources if r.read is not None]
        read_types = {r.type for r in recorded.resources if r.read is not None}

        # Mocks that answer every read with nothing: the reads go through Pulumi's registration,
        # and the answer is as unknown as the recorded reads' under a preview.
        through_pulumi = _render(stack, OfflineMocks(outputs={t: lambda args: {} for t in read_types}))

        assert _everything(recorded) == _everything(through_pulumi), stack
        assert recorded.outputs == through_pulumi.outputs
        assert recorded.problems == through_pulumi.problems == []
    # Both kinds of read were compared: a built-in kind's typed class, and a custom resource's identity.
    assert any(r.inputs == {} for r in reads)
    assert any(r.inputs.get("kind") for r in reads)
    assert any(r.depends_on for r in reads)


class _Watcher(pulumi.ComponentResource):
    def __init__(self, name: str, target: pulumi.Input[str]):
        super().__init__("driftless:test:Watcher", name, None, None)
        live = read_live(
            f"{name}-live", api_version="apps/v1", kind="Deployment", id=target, opts=child(self)
        )
        self.ready = live.apply(lambda found: found["status"].get("readyReplicas", 0))
        self.register_outputs({"ready": self.ready})


def _watch(mock: OfflineMocks | None = None, preview: bool = True) -> RenderResult:
    def program() -> None:
        pulumi.export("ready", _Watcher("web", "shop/web").ready)

    return render_program(program, stack="dev", options=RenderOptions(mock=mock, preview=preview))


def test_a_read_nothing_answers_is_unknown_under_a_preview() -> None:
    result = _watch()
    [read] = result.resources[1:]
    assert (read.name, read.parent, read.read, read.inputs) == ("web-live", "web", "shop/web", {})
    assert result.outputs["ready"] == "[computed]"


def test_a_read_the_mocks_answer_reaches_the_component() -> None:
    live_deployment = {"status": {"readyReplicas": 2}}
    mock = OfflineMocks(outputs={"kubernetes:apps/v1:Deployment": lambda args: live_deployment})
    assert _watch(mock, preview=False).outputs["ready"] == 2


def test_a_read_outside_a_preview_goes_through_pulumi() -> None:
    """Rendered as an update, a read nothing answers finds an empty object, as the mock monitor says."""
    result = _watch(preview=False)
    assert result.outputs["ready"] == 0
    assert [r.read for r in result.resources] == [None, "shop/web"]


class _MocksThatSeeReads(pulumi.runtime.Mocks):
    """Mocks of a program's own tests, not the renderer's: every read reaches them."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.resource_id:
            self.reads.append(args.name)
        return args.resource_id or f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


def test_reads_reach_pulumi_again_once_a_render_is_over_even_a_failed_one() -> None:
    def failing() -> None:
        _Watcher("web", "shop/web")
        raise RuntimeError("the program broke")

    assert not render_program(failing, stack="dev").ok
    mocks = _MocksThatSeeReads()
    _watch(mocks)
    assert mocks.reads == ["web-live"]
