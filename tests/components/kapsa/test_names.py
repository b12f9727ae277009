"""Child resource names: the document name always ends at the first '/', so documents never collide."""

from __future__ import annotations

import pytest

from components.kapsa.names import child_name


def test_parts_are_joined_with_a_separator_no_name_can_contain():
    assert child_name("api", "x-y") != child_name("api-x", "y")
    assert child_name("api", "image", "main-live") != child_name("api", "image", "main", "live")
    assert child_name("api", "image", "main") == "api/image/main"


@pytest.mark.parametrize("parts", [("api/x", "dev"), ("api", "feature/x"), ("api", "")])
def test_a_part_that_would_make_names_ambiguous_is_refused(parts: tuple[str, ...]):
    with pytest.raises(ValueError, match="cannot be part of a resource name"):
        child_name(*parts)
