"""Which previews exist: include/exclude globs, first-seen times and the TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from components.kapsa.previews import matches, plan_previews
from components.kapsa.spec import ProjectSpec
from components.observations import Observations

REPO = "https://git.corp.com/acme/api.git"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def spec(**previews: Any) -> ProjectSpec:
    return ProjectSpec.model_validate(
        {
            "repo": {"url": REPO},
            "domainPool": "pool",
            "registry": "harbor",
            "environments": [{"name": "dev"}, {"name": "prod", "autoSync": False}],
            "previewEnvironments": {"enabled": True, **previews},
        }
    )


def observe(branches: dict[str, str], first_seen: dict[str, datetime] | None = None, now: datetime = NOW):
    return Observations.model_validate(
        {
            "now": now.isoformat(),
            "git": {REPO: branches},
            "previews": {key: {"firstSeen": t.isoformat()} for key, t in (first_seen or {}).items()},
        }
    )


def test_globs_include_and_exclude():
    assert matches("feature/a", ["feature/*"], [])
    assert not matches("fix/a", ["feature/*"], [])
    assert not matches("feature/wip-a", ["feature/*"], ["*/wip-*"])
    assert not matches("Feature/a", ["feature/*"], [])  # branch names are case-sensitive


def test_a_new_matching_branch_gets_a_preview_first_seen_now():
    plan = plan_previews("api", spec(), observe({"main": "a1", "feature/new-api": "b2"}))
    (preview,) = plan.active
    assert (preview.branch, preview.slug, preview.commit) == ("feature/new-api", "feature-new-api", "b2")
    assert preview.first_seen == NOW
    assert preview.expires_at == NOW + timedelta(hours=168)


def test_expiry_counts_from_first_seen():
    seen = NOW - timedelta(hours=30)
    plan = plan_previews("api", spec(ttlHours=48), observe({"feature/a": "1"}, {"api/feature-a": seen}))
    assert plan.active[0].expires_at == seen + timedelta(hours=48)
    assert plan.next_expiry_seconds(NOW) == 18 * 3600


def test_an_expired_branch_has_no_preview():
    seen = NOW - timedelta(hours=48)
    plan = plan_previews("api", spec(ttlHours=48), observe({"feature/a": "1"}, {"api/feature-a": seen}))
    assert plan.active == ()
    assert [p.branch for p in plan.expired] == ["feature/a"]


def test_a_deleted_branch_has_no_preview():
    plan = plan_previews("api", spec(), observe({"main": "1"}, {"api/feature-a": NOW}))
    assert plan.active == ()
    assert plan.expired == ()


def test_previews_are_off_unless_enabled():
    disabled = ProjectSpec.model_validate({"repo": {"url": REPO}, "domainPool": "p", "registry": "r"})
    assert plan_previews("api", disabled, observe({"feature/a": "1"})).active == ()


def test_a_branch_named_like_an_environment_does_not_take_its_host():
    plan = plan_previews("api", spec(), observe({"dev": "1", "prod": "2"}))
    assert {p.branch for p in plan.active} == {"dev", "prod"}
    assert not {p.slug for p in plan.active} & {"dev", "prod"}


def test_first_seen_is_looked_up_by_the_resolved_slug():
    branches = {"Feature/X": "1", "feature-x": "2"}
    first = plan_previews("api", spec(), observe(branches))
    slugs = {p.branch: p.slug for p in first.active}
    old = NOW - timedelta(hours=100)
    later = plan_previews("api", spec(), observe(branches, {f"api/{slugs['Feature/X']}": old}))
    assert {p.branch: p.first_seen for p in later.active} == {"Feature/X": old, "feature-x": NOW}
