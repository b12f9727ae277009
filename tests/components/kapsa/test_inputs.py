"""What Kapsa declares the daemon observes: a Project's repository, a Registry's credentials, the
images a Project's outputs name, and its stack config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from components.context import ProgramSettings
from components.documents import load_stack_text
from components.kapsa.inputs import KapsaOptions
from components.registry import default_registry
from tests.components.kapsa.conftest import REPO


def declared(documents: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    stack = load_stack_text(yaml.safe_dump_all(documents), "stacks/dev.yaml")
    registry = default_registry()
    return registry.repositories(stack), registry.container_registries(stack)


def test_a_project_declares_its_repository_and_the_branches_it_reads(documents):
    [repository], _ = declared(documents)

    assert (repository.name, repository.repo_url, repository.poll_interval_seconds) == ("api", REPO, 300)
    # main is deployed by its environments; feature/x gets a preview; expired previews are not read
    assert repository.used_branches(["main", "feature/x", "feature/y"], expired=["feature/y"]) == {
        "main",
        "feature/x",
    }
    assert repository.key_prefix() == "api/"


def test_a_registry_declares_its_server_and_credentials_secret(documents):
    _, [registry] = declared(documents)

    assert (registry.server, registry.credentials_key()) == (
        "harbor.corp.com",
        "default/harbor-push-credentials",
    )
    assert registry.verify is not None
    assert registry.read_credentials is not None


def test_a_projects_last_good_and_pinned_images_are_kept_from_its_outputs():
    project = default_registry().get("Project")
    assert project is not None
    assert project.images_from_outputs is not None
    good, pinned = {"image": "harbor.corp.com/myapp/api:1"}, {"image": "harbor.corp.com/myapp/api:0"}
    outputs = {"phase": "Running", "lastGoodImages": {"main": good}, "pinnedImages": {"@{prod}": pinned}}

    assert project.images_from_outputs(outputs) == {"main": good, "@{prod}": pinned}


def test_the_cluster_builder_option_is_typed():
    settings = ProgramSettings(
        project_dir=Path("."),
        options={"kapsaClusterBuilder": "paketo-jammy", "fivetranConnectorsDir": "elsewhere"},
    )

    assert settings.options_for(KapsaOptions).cluster_builder == "paketo-jammy"
    assert ProgramSettings(Path(".")).options_for(KapsaOptions).cluster_builder == "default"
    with pytest.raises(pydantic.ValidationError, match="is not a Kubernetes object name"):
        ProgramSettings(Path("."), options={"kapsaClusterBuilder": "Not A Name"}).options_for(KapsaOptions)
    assert "kapsaClusterBuilder" in default_registry().option_names()
