"""The WandB summary: the most severe piece wins, Ready ignores Degraded, the requeue hint follows."""

from __future__ import annotations

import pytest

from components.wandb.status import PieceStatus, State, summarize

H, D, P, U, E = State.HEALTHY, State.DEGRADED, State.PENDING, State.UNAVAILABLE, State.ERROR


def pieces(**states: State) -> dict[str, PieceStatus]:
    return {name: PieceStatus(state, f"{name} is {state.value.lower()}") for name, state in states.items()}


@pytest.mark.parametrize(
    ("states", "summary", "ready", "requeue"),
    [
        ({"kafka": H, "redis": H, "mysql": H}, H, True, 600),
        ({"kafka": H, "minio": D}, D, True, 300),
        ({"kafka": D, "minio": P}, P, False, 120),
        ({"kafka": P, "minio": U, "redis": D}, U, False, 180),
        ({"kafka": U, "minio": E, "redis": H, "mysql": P}, E, False, 15),
        ({"kafka": E, "clickhouse": E}, E, False, 15),
        ({"redis": D, "mysql": D}, D, True, 300),
    ],
)
def test_the_most_severe_piece_decides(states, summary, ready, requeue):
    result = summarize(pieces(**states))
    assert result["state"] == summary.value
    assert result["ready"] == ("True" if ready else "False")
    assert result["requeueAfterSeconds"] == requeue


def test_every_piece_is_reported_with_its_state_message_and_flags():
    result = summarize(pieces(kafka=H, minio=D, mysql=P, redis=U, clickhouse=E))
    assert result["pieces"]["kafka"] == {
        "state": "Healthy",
        "message": "kafka is healthy",
        "ready": True,
        "progressing": False,
        "degraded": False,
    }
    flags = {
        name: (piece["ready"], piece["progressing"], piece["degraded"])
        for name, piece in result["pieces"].items()
    }
    assert flags == {
        "kafka": (True, False, False),
        "minio": (True, False, True),
        "mysql": (False, True, False),
        "redis": (False, False, True),
        "clickhouse": (False, False, True),
    }


def test_the_message_names_the_troubled_pieces_worst_first():
    result = summarize(pieces(kafka=H, minio=D, mysql=P, clickhouse=E))
    assert result["message"] == (
        "clickhouse: Error: clickhouse is error; mysql: Pending: mysql is pending; minio: Degraded: minio is degraded"
    )


def test_a_healthy_summary_says_so():
    assert summarize(pieces(kafka=H, redis=H))["message"] == "all 2 infra pieces are healthy"


def test_nothing_enabled_is_healthy_and_ready():
    result = summarize({})
    assert (result["state"], result["ready"], result["pieces"]) == ("Healthy", "True", {})


def test_a_piece_status_survives_its_output_form():
    original = PieceStatus(State.UNAVAILABLE, "no quorum")
    assert PieceStatus.from_dict(original.to_dict()) == original
