"""The shared spec types: quantities as Kubernetes takes them, never negative; sizes above zero."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from components.common.spec import Quantity, ResourceRequirements, SpecModel, StorageSize


class Volume(SpecModel):
    size: StorageSize = "1Gi"
    resources: ResourceRequirements | None = None


class Limit(SpecModel):
    amount: Quantity = "1"


@pytest.mark.parametrize(
    ("given", "kept"),
    [(1, "1"), (0.5, "0.5"), (2.0, "2.0"), (1e-3, "0.001"), ("250m", "250m"), ("+1Gi", "+1Gi"), ("0", "0")],
)
def test_numbers_are_quantities_too(given: Any, kept: str):
    """``cpu: 1`` is valid in a Kubernetes manifest, so it is valid here, and stays text."""
    assert Limit.model_validate({"amount": given}).amount == kept
    resources = ResourceRequirements.model_validate({"requests": {"cpu": given}, "limits": {"cpu": 2}})
    assert resources.to_kubernetes() == {"requests": {"cpu": kept}, "limits": {"cpu": "2"}}


@pytest.mark.parametrize("given", ["-1", "-5Gi", "-0.5", -1, -0.25, "-0"])
def test_negative_quantities_are_rejected_everywhere(given: Any):
    with pytest.raises(ValidationError, match="is negative"):
        Limit.model_validate({"amount": given})
    with pytest.raises(ValidationError, match="is negative"):
        Volume.model_validate({"resources": {"limits": {"memory": given}}})
    with pytest.raises(ValidationError, match="is negative"):
        Volume.model_validate({"size": given})


@pytest.mark.parametrize("given", [True, None, "1 Gi", "lots", "inf", float("nan"), "1GB"])
def test_what_is_no_quantity_is_rejected(given: Any):
    with pytest.raises(ValidationError):
        Limit.model_validate({"amount": given})


@pytest.mark.parametrize("given", ["0", "0Gi", "0.0Mi", "+0", 0, 0.0, "0e3"])
def test_a_storage_size_is_more_than_zero(given: Any):
    with pytest.raises(ValidationError, match="not a positive size"):
        Volume.model_validate({"size": given})


@pytest.mark.parametrize(
    ("given", "kept"), [("20Gi", "20Gi"), (10, "10"), ("1.5Ti", "1.5Ti"), ("1e9", "1e9")]
)
def test_positive_sizes_are_kept(given: Any, kept: str):
    assert Volume.model_validate({"size": given}).size == kept
