"""What the engine is made of: one row per binary, built from Go modules by :mod:`.build`.

Each piece names the wrapper module in ``engine/<wrapper>/`` (our own ``go.mod``, ``go.sum`` and,
where the upstream ``main`` cannot be built from its module, our own ``main.go``), the Go package to
build, the upstream module and version it really is, and, for a provider, the plugin it installs
as. Adding a provider is adding a row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PULUMI_VERSION = "v3.276.0"
KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.3"
# The Go module proxy serves the Kubernetes provider only as this pseudo-version: the commit right
# after the v4.25.0 tag.
KUBERNETES_PROVIDER_MODULE_VERSION = "v4.0.0-20260115033456-f47bc2d6f199"
KUBERNETES_PROVIDER_VERSION = "4.25.0"
KUBERNETES_PLUGIN_VERSION = "4.34.2"  # what requirements.txt's pulumi-kubernetes asks for, as below
# The random and tls providers are the upstream Terraform providers served through the Pulumi
# Terraform bridge (the proxy serves no pulumi-random or pulumi-tls provider module), each at the
# commit of its release tag, the only versions the proxy serves. Each reports the version
# requirements.txt pins for its SDK: the engine warns on every run about a provider older than
# the one the SDK asks for.
BRIDGED_RANDOM_VERSION = "3.8.1"
BRIDGED_RANDOM_MODULE_VERSION = "v1.3.2-0.20260127150608-de3700a633e4"
RANDOM_PLUGIN_VERSION = "4.21.4"
BRIDGED_TLS_VERSION = "4.2.1"
BRIDGED_TLS_MODULE_VERSION = "v1.2.1-0.20260130152455-857b38cda3fc"
TLS_PLUGIN_VERSION = "5.6.2"
# Writes schema.json and bridge-metadata.json with the bridge's own schema generator.
_BRIDGE_SCHEMA = ("./schemagen", "schema", "--out", ".", "--skip-docs", "--skip-examples", "--quiet")

_KUBE_LDFLAGS = tuple(
    f"-X {package}.{name}={value}"
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
    for name, value in (("gitVersion", KUBERNETES_VERSION), ("gitMajor", "1"), ("gitMinor", "37"))
)


@dataclass(frozen=True)
class Plugin:
    """A provider as the engine knows it: installed under the version its Python SDK asks for."""

    name: str
    sdk_package: str  # the Python package whose pulumi-plugin.json names the version

    def requested_version(self) -> str:
        import importlib.util

        spec = importlib.util.find_spec(self.sdk_package)
        if spec is None or spec.origin is None:
            raise LookupError(f"Python package {self.sdk_package} is not installed")
        manifest = json.loads((Path(spec.origin).parent / "pulumi-plugin.json").read_text())
        return str(manifest["version"]).lstrip("v")


@dataclass(frozen=True)
class Piece:
    name: str  # the binary's file name
    wrapper: str  # folder under engine/
    package: str  # the Go package to build ("." for our own main.go)
    module: str  # the upstream module it comes from
    version: str  # the upstream version it really is
    module_version: str = ""  # as the module proxy spells it, when that differs from version
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    plugin: Plugin | None = None
    # A program of the wrapper's own, with its arguments, that the build runs (`go run`, same flags)
    # in the build copy before `go build`: it writes the files the binary embeds.
    generator: tuple[str, ...] = ()
    # Writes generated files into the build copy of the wrapper (given the module's folder).
    prepare: Callable[[Path, Path], None] | None = field(default=None, compare=False)

    @property
    def served_version(self) -> str:
        return self.module_version or self.version


def _provider_schema(schema_dir: str, version: str) -> Callable[[Path, Path], None]:
    """The provider's embedded schema, written as its own code generator would."""

    def prepare(module_dir: Path, build_dir: Path) -> None:
        source = module_dir / schema_dir
        schema = json.loads((source / "schema.json").read_text())
        schema["version"] = version
        (build_dir / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
        mapping = source / "terraform-mapping.json"
        if mapping.exists():
            minified = json.dumps(json.loads(mapping.read_text()), separators=(",", ":"))
            (build_dir / "terraform-mapping-embed.json").write_text(minified)

    return prepare


def _bridged_provider(
    name: str, module: str, version: str, module_version: str, plugin_version: str
) -> Piece:
    """An upstream Terraform provider served through the bridge, from ``engine/<name>-provider/``."""
    wrapper = f"{name}-provider"
    return Piece(
        name=f"pulumi-resource-{name}",
        wrapper=wrapper,
        package=".",
        module=module,
        version=version,
        module_version=module_version,
        ldflags=(f"-X driftless.invalid/engine/{wrapper}/mapping.Version={plugin_version}",),
        plugin=Plugin(name, f"pulumi_{name}"),
        generator=_BRIDGE_SCHEMA,
    )


PIECES: tuple[Piece, ...] = (
    Piece(
        name="pulumi",
        wrapper="pulumi",
        package="github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        module="github.com/pulumi/pulumi/pkg/v3",
        version=PULUMI_VERSION,
        ldflags=(f"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={PULUMI_VERSION}",),
        tags=("osusergo", "grpcnotrace"),
    ),
    Piece(
        name="pulumi-resource-kubernetes",
        wrapper="kubernetes-provider",
        package=".",
        module="github.com/pulumi/pulumi-kubernetes/provider/v4",
        version=KUBERNETES_PROVIDER_VERSION,
        module_version=KUBERNETES_PROVIDER_MODULE_VERSION,
        ldflags=(
            "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version="
            + KUBERNETES_PLUGIN_VERSION,
        ),
        plugin=Plugin("kubernetes", "pulumi_kubernetes"),
        prepare=_provider_schema("cmd/pulumi-resource-kubernetes", KUBERNETES_PLUGIN_VERSION),
    ),
    _bridged_provider(
        "random",
        "github.com/terraform-providers/terraform-provider-random",
        BRIDGED_RANDOM_VERSION,
        BRIDGED_RANDOM_MODULE_VERSION,
        RANDOM_PLUGIN_VERSION,
    ),
    _bridged_provider(
        "tls",
        "github.com/hashicorp/terraform-provider-tls",
        BRIDGED_TLS_VERSION,
        BRIDGED_TLS_MODULE_VERSION,
        TLS_PLUGIN_VERSION,
    ),
    Piece(
        name="etcd",
        wrapper="etcd",
        package="go.etcd.io/etcd/server/v3",
        module="go.etcd.io/etcd/server/v3",
        version=ETCD_VERSION,
    ),
    Piece(
        name="kube-apiserver",
        wrapper="kube",
        package="k8s.io/kubernetes/cmd/kube-apiserver",
        module="k8s.io/kubernetes",
        version=KUBERNETES_VERSION,
        ldflags=_KUBE_LDFLAGS,
    ),
    Piece(
        name="kube-controller-manager",
        wrapper="kube",
        package="k8s.io/kubernetes/cmd/kube-controller-manager",
        module="k8s.io/kubernetes",
        version=KUBERNETES_VERSION,
        ldflags=_KUBE_LDFLAGS,
    ),
)


def piece(name: str) -> Piece:
    for candidate in PIECES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
