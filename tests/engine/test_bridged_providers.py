"""The random and tls providers the engine build makes from the upstream Terraform providers and the
Pulumi Terraform bridge: they serve every token and property name their Python SDKs send, and a real
inline program creates, keeps and destroys passwords, keys and a CA-signed certificate with them.

Needs no sandbox: a file backend and the built CLI, with the providers installed in the engine
cache's PULUMI_HOME under the versions the SDKs request (`python -m automation engine build`).
"""

from __future__ import annotations

import base64
import inspect
import ipaddress
import json
import os
import re
import string
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pulumi_random as random
import pulumi_tls as tls
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pulumi import automation as auto
from pulumi._types import input_type_py_to_pulumi_names, resource_py_to_pulumi_names

from automation.engine.build import EngineMissingError, engine_environment, locate, pulumi_home
from automation.engine.pieces import piece

pytestmark = pytest.mark.engine

# pulumi_tls 5.6.2 was generated from a terraform-provider-tls newer than 4.2.1 (the newest the
# module proxy serves), which added write-only private key inputs: the only SDK names not served.
TLS_WRITE_ONLY_INPUTS = (
    {("tls:index/certRequest:CertRequest", name) for name in ("privateKeyPemWo", "privateKeyPemWoVersion")}
    | {
        ("tls:index/selfSignedCert:SelfSignedCert", name)
        for name in ("privateKeyPemWo", "privateKeyPemWoVersion")
    }
    | {
        ("tls:index/locallySignedCert:LocallySignedCert", name)
        for name in ("caPrivateKeyPemWo", "caPrivateKeyPemWoVersion")
    }
)


@dataclass
class Engine:
    command: auto.PulumiCommand
    env: dict[str, str]
    home: Path
    backend: Path

    def stored_state(self) -> str:
        """Everything the file backend holds (checkpoints, backups, history), as written."""
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.backend.rglob("*")) if p.is_file()
        )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    try:
        cli = locate("pulumi")
        for name in ("pulumi-resource-random", "pulumi-resource-tls"):
            locate(name)
    except EngineMissingError as exc:
        pytest.fail(str(exc))
    home = pulumi_home()
    for name in ("random", "tls"):
        plugin = piece(f"pulumi-resource-{name}").plugin
        assert plugin is not None
        installed = home / "plugins" / f"resource-{name}-v{plugin.requested_version()}"
        if not installed.is_dir():
            pytest.fail(f"{installed} is missing: run `python -m automation engine build`")
    backend = tmp_path_factory.mktemp("pulumi-state")
    base = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env = {
        **base,
        **engine_environment(),
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": "bridged-providers-test",
    }
    return Engine(auto.PulumiCommand(root=str(cli.parent.parent)), env, home, backend)


# --- every name the SDKs send is one the providers serve


def package_schema(engine: Engine, sdk: ModuleType) -> dict[str, Any]:
    manifest = json.loads((Path(str(sdk.__file__)).parent / "pulumi-plugin.json").read_text())
    result = subprocess.run(
        [engine.command.command, "package", "get-schema", f"{manifest['name']}@{manifest['version']}"],
        env=engine.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def sdk_resources(sdk: ModuleType) -> dict[str, type]:
    source = Path(str(sdk.__file__)).read_text()
    registered = json.loads(re.search(r'resource_modules="""(.*?)"""', source, re.S).group(1))  # type: ignore[union-attr]
    return {token: getattr(sdk, name) for module in registered for token, name in module["classes"].items()}


def sdk_functions(sdk: ModuleType) -> dict[str, tuple[set[str], set[str]]]:
    """Each data source function's token, with the argument and result names it uses on the wire."""
    functions = {}
    for name, function in inspect.getmembers(sdk, inspect.isfunction):
        if not name.startswith("get_") or name.endswith("_output"):
            continue
        source = inspect.getsource(function)
        token = re.search(r"invoke\('([^']+)'", source).group(1)  # type: ignore[union-attr]
        result = getattr(sdk, "".join(part.title() for part in name.split("_")) + "Result")
        arguments = set(re.findall(r"__args__\['(\w+)'\]", source))
        functions[token] = (arguments, set(resource_py_to_pulumi_names(result).values()))
    return functions


def sdk_types(sdk: ModuleType) -> dict[str, set[str]]:
    """Each nested type's schema name with the property names the SDK uses for it."""
    types: dict[str, set[str]] = {}
    for cls in vars(sdk).values():
        if not isinstance(cls, type) or not cls.__module__.startswith(sdk.__name__):
            continue
        if cls.__module__.endswith("._inputs") and cls.__name__.endswith("Args"):
            names = set(input_type_py_to_pulumi_names(cls).values())
            types.setdefault(cls.__name__.removesuffix("Args"), set()).update(names)
    outputs = getattr(sdk, "outputs", None)
    for cls in vars(outputs).values() if outputs else ():
        if isinstance(cls, type) and cls.__module__ == outputs.__name__:  # type: ignore[union-attr]
            name = cls.__name__.removesuffix("Result") if cls.__name__.startswith("Get") else cls.__name__
            types.setdefault(name, set()).update(resource_py_to_pulumi_names(cls).values())
    return types


def missing_names(schema: dict[str, Any], sdk: ModuleType) -> set[tuple[str, str]]:
    """(token, property) for every name the SDK uses that the provider's schema lacks."""
    missing: set[tuple[str, str]] = set()
    for token, cls in sdk_resources(sdk).items():
        resource = schema["resources"].get(token)
        if resource is None:
            missing.add((token, "*"))
            continue
        args = getattr(sdk, cls.__name__ + "Args")
        inputs = set(input_type_py_to_pulumi_names(args).values())
        outputs = set(resource_py_to_pulumi_names(cls).values())
        missing |= {(token, n) for n in inputs - set(resource.get("inputProperties", {}))}
        missing |= {(token, n) for n in outputs - set(resource["properties"]) - {"id", "urn"}}
    for token, (arguments, results) in sdk_functions(sdk).items():
        function = schema["functions"].get(token)
        if function is None:
            missing.add((token, "*"))
            continue
        missing |= {(token, n) for n in arguments - set(function.get("inputs", {}).get("properties", {}))}
        missing |= {(token, n) for n in results - set(function["outputs"]["properties"])}
    served_types = {t.split(":")[-1][0].upper() + t.split(":")[-1][1:]: t for t in schema.get("types", {})}
    for name, properties in sdk_types(sdk).items():
        type_token = served_types.get(name)
        if type_token is None:
            missing.add((name, "*"))
            continue
        missing |= {(type_token, n) for n in properties - set(schema["types"][type_token]["properties"])}
    provider_args = set(input_type_py_to_pulumi_names(sdk.ProviderArgs).values())
    missing |= {("provider", n) for n in provider_args - set(schema["provider"].get("inputProperties", {}))}
    return missing


def test_random_serves_every_resource_and_property_of_its_sdk(engine: Engine) -> None:
    schema = package_schema(engine, random)
    assert len(sdk_resources(random)) == 10
    assert missing_names(schema, random) == set()


def test_tls_serves_every_resource_function_and_property_of_its_sdk_but_write_only_keys(
    engine: Engine,
) -> None:
    schema = package_schema(engine, tls)
    assert len(sdk_resources(tls)) == 4
    assert len(sdk_functions(tls)) == 2
    assert missing_names(schema, tls) == TLS_WRITE_ONLY_INPUTS
    subject = schema["resources"]["tls:index/selfSignedCert:SelfSignedCert"]["inputProperties"]["subject"]
    assert "$ref" in subject, "subject is one object in the SDK, never a list"


def test_the_engine_runs_the_built_providers_and_they_report_the_versions_their_sdks_request(
    engine: Engine,
) -> None:
    for name in ("random", "tls"):
        built = piece(f"pulumi-resource-{name}")
        assert built.plugin is not None
        version = built.plugin.requested_version()
        installed = engine.home / "plugins" / f"resource-{name}-v{version}" / built.name
        assert installed.read_bytes() == locate(built.name).read_bytes(), (
            f"{installed} is not the latest build"
        )
        reported = subprocess.run([str(installed), "-version"], capture_output=True, text=True, timeout=60)
        assert reported.stdout.strip() == version


# --- a real program


def keys_and_certificates() -> None:
    password = random.RandomPassword(
        "password", length=24, override_special="!#%", min_upper=2, min_numeric=2, min_special=1
    )
    data = random.RandomBytes("bytes", length=32)
    ca_key = tls.PrivateKey("ca-key", algorithm="ECDSA", ecdsa_curve="P256")
    ca = tls.SelfSignedCert(
        "ca",
        private_key_pem=ca_key.private_key_pem,
        is_ca_certificate=True,
        validity_period_hours=48,
        early_renewal_hours=1,
        allowed_uses=["cert_signing", "crl_signing"],
        subject=tls.SelfSignedCertSubjectArgs(common_name="driftless test CA", organization="driftless"),
    )
    server_key = tls.PrivateKey("server-key", algorithm="RSA", rsa_bits=2048)
    request = tls.CertRequest(
        "server-request",
        private_key_pem=server_key.private_key_pem,
        dns_names=["api.driftless.test"],
        ip_addresses=["127.0.0.1"],
        subject=tls.CertRequestSubjectArgs(common_name="api.driftless.test"),
    )
    server = tls.LocallySignedCert(
        "server",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca.cert_pem,
        validity_period_hours=24,
        early_renewal_hours=2,
        allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
    )
    public = tls.get_public_key_output(private_key_pem=server_key.private_key_pem)
    pulumi.export("password", password.result)
    pulumi.export("bytesBase64", data.base64)
    pulumi.export("bytesHex", data.hex)
    pulumi.export("caKey", ca_key.private_key_pem)
    pulumi.export("caCert", ca.cert_pem)
    pulumi.export("caReadyForRenewal", ca.ready_for_renewal)
    pulumi.export("serverKeyPublic", server_key.public_key_pem)
    pulumi.export("serverCert", server.cert_pem)
    pulumi.export("serverIsCa", server.is_ca_certificate)
    pulumi.export("serverValidUntil", server.validity_end_time)
    pulumi.export("publicKeyFromFunction", public.public_key_pem)


@pytest.fixture
def stack(engine: Engine, tmp_path: Path) -> Iterator[auto.Stack]:
    options = auto.LocalWorkspaceOptions(
        work_dir=str(tmp_path),
        pulumi_home=str(engine.home),
        env_vars=engine.env,
        pulumi_command=engine.command,
        secrets_provider="passphrase",
        project_settings=auto.ProjectSettings(name="bridged-providers", runtime="python"),
    )
    created = auto.create_or_select_stack("bridged", "bridged-providers", keys_and_certificates, opts=options)
    try:
        yield created
    finally:
        created.workspace.remove_stack("bridged", force=True)


def test_up_creates_keys_and_a_ca_signed_certificate_a_second_up_keeps_them_and_destroy_removes_them(
    engine: Engine, stack: auto.Stack
) -> None:
    first = stack.up(color="never")
    assert first.summary.resource_changes == {"create": 8}, first.stdout
    assert "expected to have version" not in first.stdout, first.stdout
    out = first.outputs

    password = out["password"]
    assert password.secret
    assert len(password.value) == 24
    assert set(password.value) <= set(string.ascii_letters + string.digits + "!#%")
    assert sum(c.isupper() for c in password.value) >= 2
    assert sum(c.isdigit() for c in password.value) >= 2
    assert out["bytesBase64"].secret
    assert len(base64.b64decode(out["bytesBase64"].value)) == 32
    assert base64.b64decode(out["bytesBase64"].value).hex() == out["bytesHex"].value

    assert out["caKey"].secret
    ca_key = serialization.load_pem_private_key(out["caKey"].value.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    assert ca_key.curve.name == "secp256r1"
    ca = x509.load_pem_x509_certificate(out["caCert"].value.encode())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "driftless test CA"
    ca.verify_directly_issued_by(ca)
    assert out["caReadyForRenewal"].value is False

    server = x509.load_pem_x509_certificate(out["serverCert"].value.encode())
    server.verify_directly_issued_by(ca)
    assert server.issuer == ca.subject
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert out["serverIsCa"].value is False
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["api.driftless.test"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    server_public = server.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert server_public.decode() == out["serverKeyPublic"].value == out["publicKeyFromFunction"].value
    valid_until = datetime.fromisoformat(out["serverValidUntil"].value.replace("Z", "+00:00"))
    assert valid_until.replace(microsecond=0) == server.not_valid_after_utc  # X.509 keeps whole seconds
    assert 23 <= (valid_until - datetime.now(UTC)).total_seconds() / 3600 <= 24

    state = engine.stored_state()
    assert "bytesBase64" in state
    for secret in (password.value, out["bytesBase64"].value, out["bytesHex"].value, out["caKey"].value):
        assert json.dumps(secret)[1:-1] not in state, "a secret reached the state in plain text"

    second = stack.up(color="never")
    assert second.summary.resource_changes == {"same": 8}, second.stdout
    assert second.outputs["password"].value == password.value
    assert second.outputs["serverCert"].value == out["serverCert"].value

    destroyed = stack.destroy(color="never")
    assert destroyed.summary.resource_changes == {"delete": 8}, destroyed.stdout
    assert (stack.export_stack().deployment or {}).get("resources") in (None, [])
