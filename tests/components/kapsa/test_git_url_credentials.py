"""A token in a git URL's query is refused like one in its user part, and never echoed."""

from __future__ import annotations

import pytest

from components.documents import load_stack_text
from tests.components.kapsa.test_spec import PLATFORM, PROJECT, REGISTRY, errors_of

TOKEN = "PLANTED-GIT-TOKEN-3e8b"
URL = "https://git.corp.com/acme/api.git"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"https://gitlab.corp.com/acme/api.git?private_token={TOKEN}&ref=main",
            "https://gitlab.corp.com/acme/api.git?private_token=[secret]&ref=main",
        ),
        (f"https://git.corp.com/acme/api.git?access_token={TOKEN}", None),
        (f"https://git.corp.com/acme/api.git?token={TOKEN}", None),
        (f"https://git.corp.com/acme/api.git?key={TOKEN}", None),
        (f"https://git.corp.com/acme/api.git?sig={TOKEN}", None),
        (f"https://git.corp.com/acme/api.git?password={TOKEN}", None),
        (f"ssh://git@git.corp.com/acme/api.git?apiKey={TOKEN}", None),
        (f"git@git.corp.com:acme/api.git?private_token={TOKEN}", None),
        (f"https://bot:{TOKEN}@git.corp.com/acme/api.git", "https://[secret]@git.corp.com/acme/api.git"),
    ],
)
def test_a_token_anywhere_in_the_git_url_is_refused_at_its_line_and_masked(url: str, shown: str | None):
    (error,) = errors_of(PLATFORM + PROJECT.replace(URL, url))
    assert error.startswith("stacks/dev.yaml:12: Project/api: spec.repo.url: ")
    assert "carries credentials" in error
    assert TOKEN not in error
    if shown is not None:
        assert repr(shown) in error


@pytest.mark.parametrize(
    "url",
    [
        "https://git.corp.com/acme/api.git?ref=main",
        "https://git.corp.com/acme/api.git?tokenUrl=https://sso",
        "https://git.corp.com/acme/api.git?sort_key=name",
    ],
)
def test_a_query_without_credentials_is_accepted(url: str):
    project = load_stack_text(PLATFORM + PROJECT.replace(URL, url), "stacks/dev.yaml", REGISTRY).get(
        "Project", "api"
    )
    assert project is not None
    assert project.spec.repo.url == url
