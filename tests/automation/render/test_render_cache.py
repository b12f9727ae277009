"""The render cache: an unchanged stack is not rendered again, and every input of its key counts.

Each input has its own test: render, render again (from the cache), change that input alone,
render (not from the cache, and as a fresh render would be), render again (from the cache).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from automation.cli import main
from automation.render.batch import BatchSettings, StackRender, render_many, stacks_in, with_conflicts
from automation.render.cache import RenderCache, default_cache_dir
from automation.render.schemas import SchemaValidator
from tests.automation.render.stacks import DOMAIN_POOL, REGISTRY, project, write_stack
from tests.harness import SHARED_CRDS

NOW = '{"now": "2026-01-01T00:00:00Z"}'


@dataclass
class Setup:
    """One project folder, one stack set and a cache; every input can be changed in place."""

    root: Path
    kubernetes_version: str = "1.33"
    config: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.project_dir.mkdir()
        (self.project_dir / "__main__.py").write_text("# the program\n", encoding="utf-8")
        for folder in ("components", "connectors/shop", "automation/render"):
            (self.project_dir / folder).mkdir(parents=True)
        (self.project_dir / "components" / "domain.py").write_text("VALUE = 1\n", encoding="utf-8")
        (self.project_dir / "connectors" / "shop" / "connector.py").write_text("# sync\n", encoding="utf-8")
        (self.project_dir / "automation" / "render" / "values.py").write_text("# view\n", encoding="utf-8")
        self.crds.mkdir()
        shutil.copy(SHARED_CRDS / "cert-manager.io_v1_ClusterIssuer.json", self.crds)
        write_stack(self.stacks, "shop", DOMAIN_POOL, REGISTRY, project("shop"))
        write_stack(self.stacks, "other")
        self.observations.mkdir()
        (self.observations / "shop.json").write_text(NOW, encoding="utf-8")

    @property
    def project_dir(self) -> Path:
        return self.root / "project"

    @property
    def stacks(self) -> Path:
        return self.root / "stacks"

    @property
    def crds(self) -> Path:
        return self.root / "crds"

    @property
    def observations(self) -> Path:
        return self.root / "observations"

    def render(self) -> dict[str, StackRender]:
        """Every stack, as ``render --all`` renders them: ``{name: render}``."""
        validator = SchemaValidator(self.kubernetes_version, self.crds)
        settings = with_conflicts(
            BatchSettings(
                project_dir=self.project_dir,
                stacks_dir=self.stacks,
                kubernetes_version=self.kubernetes_version,
                crd_schema_dir=self.crds,
                config=self.config,
            )
        )
        cache = RenderCache(
            self.root / "cache", project_dir=self.project_dir, validator=validator, config=self.config
        )
        return {
            r.stack: r for r in render_many(stacks_in(self.stacks, self.observations), settings, cache=cache)
        }


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def fresh_render_of_shop(setup: Setup) -> str:
    """The shop stack rendered with no cache at all."""
    settings = with_conflicts(
        BatchSettings(
            project_dir=setup.project_dir,
            stacks_dir=setup.stacks,
            kubernetes_version=setup.kubernetes_version,
            crd_schema_dir=setup.crds,
            config=setup.config,
        )
    )
    (rendered,) = [
        r for r in render_many(stacks_in(setup.stacks, setup.observations), settings) if r.stack == "shop"
    ]
    return rendered.text


def assert_change_renders_again(setup: Setup, change: Callable[[], None], *, every_stack: bool) -> None:
    first = setup.render()
    assert not any(r.cached for r in first.values())
    again = setup.render()
    assert all(r.cached for r in again.values())
    assert {n: r.text for n, r in again.items()} == {n: r.text for n, r in first.items()}

    change()
    changed = setup.render()
    assert not changed["shop"].cached
    assert changed["other"].cached is not every_stack
    assert changed["shop"].text == fresh_render_of_shop(setup)
    assert all(r.cached for r in setup.render().values())


def append(path: Path, text: str) -> Callable[[], None]:
    return lambda: path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_the_stack_file_content_is_in_the_key(setup: Setup) -> None:
    assert_change_renders_again(setup, append(setup.stacks / "shop.yaml", "# reviewed\n"), every_stack=False)


def test_the_observations_are_in_the_key(setup: Setup) -> None:
    later = '{"now": "2026-01-02T00:00:00Z"}'
    path = setup.observations / "shop.json"
    assert_change_renders_again(setup, lambda: path.write_text(later, encoding="utf-8"), every_stack=False)


def test_observations_without_now_are_never_kept(setup: Setup) -> None:
    (setup.observations / "shop.json").write_text("{}", encoding="utf-8")
    setup.render()
    assert not setup.render()["shop"].cached
    assert setup.render()["other"].cached


def test_the_stack_config_is_in_the_key(setup: Setup) -> None:
    config = setup.project_dir / "Pulumi.shop.yaml"
    change = lambda: config.write_text("config:\n  kubernetes:context: other\n", encoding="utf-8")  # noqa: E731
    assert_change_renders_again(setup, change, every_stack=False)


def test_the_render_config_is_in_the_key(setup: Setup) -> None:
    assert_change_renders_again(
        setup, lambda: setup.config.update(kapsaClusterBuilder="builder-2"), every_stack=True
    )


def test_the_kubernetes_version_is_in_the_key(setup: Setup) -> None:
    assert_change_renders_again(setup, lambda: setattr(setup, "kubernetes_version", "1.32"), every_stack=True)


def test_the_crd_schema_directory_content_is_in_the_key(setup: Setup) -> None:
    schema = setup.crds / "cert-manager.io_v1_ClusterIssuer.json"
    data = json.loads(schema.read_text(encoding="utf-8"))
    data["description"] = "a newer release of the CRD"
    change = lambda: schema.write_text(json.dumps(data), encoding="utf-8")  # noqa: E731
    assert_change_renders_again(setup, change, every_stack=True)


def test_a_new_crd_schema_file_is_in_the_key(setup: Setup) -> None:
    change = lambda: shutil.copy(SHARED_CRDS / "cert-manager.io_v1_Certificate.json", setup.crds)  # noqa: E731
    assert_change_renders_again(setup, change, every_stack=True)


@pytest.mark.parametrize(
    "source",
    ["__main__.py", "components/domain.py", "connectors/shop/connector.py", "automation/render/values.py"],
)
def test_the_program_code_is_in_the_key(setup: Setup, source: str) -> None:
    assert_change_renders_again(setup, append(setup.project_dir / source, "# changed\n"), every_stack=True)


def test_a_new_program_file_is_in_the_key(setup: Setup) -> None:
    new = setup.project_dir / "components" / "added.py"
    assert_change_renders_again(setup, lambda: new.write_text("X = 1\n", encoding="utf-8"), every_stack=True)


def test_conflicts_with_another_stack_are_in_the_key(setup: Setup) -> None:
    # Another stack file claims the shop's namespace: the shop's file is unchanged, its render is not.
    other = lambda: write_stack(setup.stacks, "other", DOMAIN_POOL, REGISTRY, project("shop"))  # noqa: E731
    first = setup.render()
    assert first["shop"].ok
    other()
    changed = setup.render()
    assert not changed["shop"].cached
    assert not changed["shop"].ok
    assert "also owned by" in changed["shop"].text
    assert changed["shop"].text == fresh_render_of_shop(setup)
    assert setup.render()["shop"].cached


def test_an_entry_that_cannot_be_read_is_rendered_again(setup: Setup) -> None:
    first = setup.render()
    for entry in (setup.root / "cache").rglob("*.json"):
        entry.write_text("half an entr", encoding="utf-8")
    again = setup.render()
    assert not any(r.cached for r in again.values())
    assert {n: r.text for n, r in again.items()} == {n: r.text for n, r in first.items()}


def test_the_command_reports_what_came_from_the_cache_and_no_cache_renders_all(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLESS_CRD_SCHEMAS", str(SHARED_CRDS))
    command = ["render", "--all", "--stacks-dir", str(setup.stacks), "-j", "1"]
    cache = ["--cache-dir", str(setup.root / "cli-cache")]

    assert main([*command, *cache]) == 0
    first = capsys.readouterr()
    assert main([*command, *cache]) == 0
    second = capsys.readouterr()
    assert main([*command, "--no-cache"]) == 0
    uncached = capsys.readouterr()

    assert "2 stack(s): 2 rendered, 0 from the cache, 0 invalid" in first.err
    assert "2 stack(s): 0 rendered, 2 from the cache, 0 invalid" in second.err
    assert "2 stack(s): 2 rendered, 0 from the cache, 0 invalid" in uncached.err
    assert first.out == second.out == uncached.out


def test_the_cache_lives_outside_the_work_tree_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DRIFTLESS_RENDER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "driftless" / "render"
    monkeypatch.setenv("DRIFTLESS_RENDER_CACHE", str(tmp_path / "chosen"))
    assert default_cache_dir() == tmp_path / "chosen"
