"""The mock monitor's answer to a registration the mocks add nothing to: the inputs, as they came.

The renderer hands those back without turning them into Python values and back once more; a render
must be the same as when every answer goes through the mock monitor's own round trip.
"""

from __future__ import annotations

from automation.render.render import PROJECT_DIR, RenderOptions, RenderResult, render_stack
from automation.render.runtime import OfflineMocks


def _render(stack: str, mock: OfflineMocks | None = None) -> RenderResult:
    return render_stack(PROJECT_DIR / "stacks" / f"{stack}.yaml", options=RenderOptions(mock=mock))


def test_inputs_handed_back_as_they_came_render_as_the_mock_monitor_answers() -> None:
    for stack in ("dev", "prod"):
        direct = _render(stack)
        types = {r.type for r in direct.resources}
        # Mocks that add nothing, but for every type: each answer takes the mock monitor's round trip.
        round_trip = _render(stack, OfflineMocks(outputs={t: lambda args: {} for t in types}))

        assert [(r.to_json(), r.depends_on) for r in direct.resources] == [
            (r.to_json(), r.depends_on) for r in round_trip.resources
        ], stack
        assert direct.outputs == round_trip.outputs
        assert direct.problems == round_trip.problems == []
        # The example stacks have secrets among their inputs: they come back as they went.
        assert any("[secret]" in str(r.inputs) for r in direct.resources)
