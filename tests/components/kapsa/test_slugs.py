"""Branch slugs are DNS labels, Service names and label values, distinct for distinct branches."""

from __future__ import annotations

import re

import pytest

from components.kapsa.slugs import MAX_LENGTH, assign_slugs, slugify

# A DNS-1035 label: what a Service name must be; a host label and a label value are looser.
SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("feature/new-api", "feature-new-api"),
        ("main", "main"),
        ("Feature/JIRA-123_Fix", "feature-jira-123-fix"),
        ("fix//double--dash__", "fix-double-dash"),
        ("café/déjà-vu", "cafe-deja-vu"),
        ("Straße", "strasse"),
    ],
)
def test_readable_branches_keep_a_readable_slug(branch: str, slug: str):
    assert slugify(branch) == slug


@pytest.mark.parametrize(
    "branch",
    [
        "feature/" + "x" * 200,
        "功能/登录",
        "🚀",
        "123-hotfix",
        "-leading/and/trailing-",
        "release/2026.11/" + "ünïcödé-" * 12,
    ],
)
def test_every_slug_is_a_valid_service_name_of_at_most_63_characters(branch: str):
    slug = slugify(branch)
    assert len(slug) <= MAX_LENGTH
    assert SERVICE_NAME.match(slug), slug


def test_long_branches_that_share_a_prefix_stay_distinct():
    first, second = "feature/" + "a" * 100 + "/one", "feature/" + "a" * 100 + "/two"
    assert slugify(first) != slugify(second)
    assert slugify(first).startswith("feature-aaaa")


def test_branches_in_scripts_with_no_latin_letters_stay_distinct():
    assert slugify("功能/登录") != slugify("功能/注册")


def test_a_digit_first_branch_still_starts_with_a_letter():
    assert slugify("123-hotfix").endswith("123-hotfix")
    assert slugify("123-hotfix")[0].isalpha()


def test_colliding_branches_all_get_distinct_hashed_slugs():
    slugs = assign_slugs(["Feature/X", "feature-x", "feature_x", "other"])
    assert slugs["other"] == "other"
    colliding = [slugs["Feature/X"], slugs["feature-x"], slugs["feature_x"]]
    assert len(set(colliding)) == 3
    assert all(s.startswith("feature-x-") for s in colliding)
    assert "feature-x" not in colliding  # nobody silently wins the plain name


def test_collision_resolution_does_not_depend_on_order():
    branches = ["Feature/X", "feature-x", "feature/x", "b", "a"]
    assert assign_slugs(branches) == assign_slugs(list(reversed(branches)))


def test_a_branch_never_takes_a_reserved_name():
    slugs = assign_slugs(["dev", "feature/a"], reserved=["dev", "prod"])
    assert slugs["dev"] != "dev"
    assert slugs["dev"].startswith("dev-")
    assert slugs["feature/a"] == "feature-a"


def test_long_colliding_branches_are_still_63_characters_at_most():
    base = "x" * 80
    slugs = assign_slugs([base, base.upper() + "/", base + "!"])
    assert len(set(slugs.values())) == 3
    assert all(len(s) <= MAX_LENGTH and SERVICE_NAME.match(s) for s in slugs.values())
