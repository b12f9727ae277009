"""Which image each environment runs: builds, last good images, auto-sync, pins and promotion.

Inputs are the kpack ``Image``'s live status (what the provider reports after ``up`` wrote it) and
what the daemon recorded in ``observations.images`` from this Project's earlier outputs, so that
it survives across runs: the last good image of each branch (``<project>/<branch>``, from
``status.lastGoodImages``) and the image each pinned environment runs (``<project>/@{<env>}``,
from ``status.pinnedImages``; ``@{`` never occurs in a git branch name, so the keys cannot clash).

- The *latest good* image of a branch is the kpack Image's ``status.latestImage`` while its
  ``Ready`` condition is True; otherwise the recorded last good image. A failed or running build
  therefore never moves anything.
- ``autoSync: true`` environments (and every preview) run the latest good image of their branch.
- ``autoSync: false`` environments are pinned. Promoting one is writing the image to run into its
  ``image:`` field (usually a ``lastGoodImages`` entry of the status). Otherwise it keeps its pin
  (the image it ran last time); without a pin yet, the recorded last good image of its branch
  (never the build of the current run); on a first deploy, the latest good one.
- An environment with no good image at all yet is deployed with zero replicas (see
  :data:`NO_IMAGE_REPLICAS`) and the kpack tag as a placeholder image, so the Deployment, Service,
  Ingress and certificate exist from the start and the first good build scales it up.

Pure functions; the component feeds them Output values through ``apply``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from components.observations import ImageObservation

NO_IMAGE_REPLICAS = 0


class BuildState(StrEnum):
    """The state of a branch's kpack Image, from its ``Ready`` condition."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    BUILDING = "Building"
    NOT_BUILT = "NotBuilt"  # no kpack Image (no commit observed) or no status yet


@dataclass(frozen=True)
class GoodImage:
    """A successfully built image, and the commit it was built from when known."""

    image: str
    commit: str | None = None

    def to_json(self) -> dict[str, str]:
        data = {"image": self.image}
        if self.commit is not None:
            data["commit"] = self.commit
        return data

    @classmethod
    def from_observation(cls, observed: ImageObservation | None) -> GoodImage | None:
        return None if observed is None else cls(observed.image, observed.commit)


@dataclass(frozen=True)
class BuildStatus:
    """What a kpack Image's live status says about the branch's latest build."""

    state: BuildState
    latest_image: str | None = None
    reason: str = ""
    message: str = ""
    # True when the status describes an older generation of the Image than the one just written
    # (kpack has not seen the new commit yet): reported as building, whatever it said before.
    stale: bool = False


def image_status_of(live: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The ``status`` block of a kpack Image as the provider reports it (may be absent)."""
    status = (live or {}).get("status") if isinstance(live, Mapping) else None
    return status if isinstance(status, Mapping) else {}


def parse_build_status(status: Mapping[str, Any] | None, generation: int | None = None) -> BuildStatus:
    """Read a kpack Image ``status``: the ``Ready`` condition, ``latestImage``, staleness."""
    if not status:
        return BuildStatus(BuildState.NOT_BUILT)
    ready = next(
        (c for c in status.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") == "Ready"),
        None,
    )
    latest = status.get("latestImage") or None
    observed_generation = status.get("observedGeneration")
    stale = (
        generation is not None
        and isinstance(observed_generation, int | float)
        and int(observed_generation) < generation
    )
    if ready is None or stale:
        # kpack has not judged the Image as written yet: a build is (about to be) under way.
        return BuildStatus(BuildState.BUILDING, latest, stale=stale)
    condition_status = str(ready.get("status", "Unknown"))
    state = {"True": BuildState.SUCCEEDED, "False": BuildState.FAILED}.get(
        condition_status, BuildState.BUILDING
    )
    return BuildStatus(
        state,
        latest,
        reason=str(ready.get("reason") or ""),
        message=str(ready.get("message") or ""),
    )


def latest_good(recorded: GoodImage | None, build: BuildStatus, revision: str | None) -> GoodImage | None:
    """The newest image of a branch known to be good.

    A Ready build's ``latestImage`` wins, attributed to ``revision`` (the commit the Image was
    asked to build) unless it is the image already recorded. Without a Ready build the recorded
    image stands; with nothing recorded, kpack's ``latestImage`` (the last *successful* build by
    kpack's definition) is still better than none, of unknown commit.
    """
    if build.state is BuildState.SUCCEEDED and build.latest_image:
        if recorded is not None and recorded.image == build.latest_image:
            return recorded
        return GoodImage(build.latest_image, revision)
    if recorded is not None:
        return recorded
    if build.latest_image:
        return GoodImage(build.latest_image)
    return None


@dataclass(frozen=True)
class ImageChoice:
    """The image one environment runs, and why."""

    image: str | None  # None: no good image exists yet
    source: str  # "promoted" | "pinned" | "recorded" | "latest" | "none"
    commit: str | None = None


def choose_image(
    *,
    auto_sync: bool,
    promoted: str | None,
    pinned: GoodImage | None,
    recorded: GoodImage | None,
    latest: GoodImage | None,
) -> ImageChoice:
    """The image an environment runs (see the module docstring for the rules)."""
    if not auto_sync:
        if promoted is not None:
            commit = next((g.commit for g in (pinned, recorded, latest) if g and g.image == promoted), None)
            return ImageChoice(promoted, "promoted", commit)
        for held, source in ((pinned, "pinned"), (recorded, "recorded")):
            if held is not None:
                return ImageChoice(held.image, source, held.commit)
    if latest is not None:
        return ImageChoice(latest.image, "recorded" if latest == recorded else "latest", latest.commit)
    return ImageChoice(None, "none")


def build_condition(builds: Mapping[str, BuildStatus]) -> dict[str, str]:
    """The Project's ``BuildSucceeded`` condition over the builds of every branch it deploys."""
    failed = {branch: b for branch, b in builds.items() if b.state is BuildState.FAILED}
    if failed:
        message = "; ".join(
            f"{branch}: {b.message or b.reason or 'build failed'}" for branch, b in failed.items()
        )
        return _condition("BuildSucceeded", "False", "BuildFailed", message)
    building = sorted(branch for branch, b in builds.items() if b.state is BuildState.BUILDING)
    if building:
        return _condition("BuildSucceeded", "Unknown", "Building", f"building: {', '.join(building)}")
    succeeded = sorted(branch for branch, b in builds.items() if b.state is BuildState.SUCCEEDED)
    if succeeded and len(succeeded) == len(builds):
        return _condition(
            "BuildSucceeded", "True", "BuildSucceeded", f"latest builds good: {', '.join(succeeded)}"
        )
    return _condition("BuildSucceeded", "Unknown", "NotBuilt", "no build has reported yet")


def tag_suffix(image_name: str, is_default_branch: bool) -> str:
    """The tag part of a branch's image: none for the default branch, the branch slug otherwise."""
    if is_default_branch:
        return ""
    # ":latest" is what the default branch's untagged repository means; never give it to a branch.
    return f":{'branch-latest' if image_name == 'latest' else image_name}"


def _condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}
