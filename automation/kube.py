"""A small Kubernetes API client, with the daemon's kubeconfig: the daemon's own calls.

The program talks to clusters through the Pulumi provider. The daemon makes a few calls of its
own: it reads a Registry's credentials Secret for its version and, to verify the registry, for
the credentials in it (never logged or kept), and keeps the Leases replicas
share the stacks with; a full client library would be a large dependency for that. The
kubeconfig is the first file of ``$KUBECONFIG`` that exists, else ``~/.kube/config``; its context
is the one a stack's config names (``kubernetes:context``, as the Kubernetes provider reads it),
else its ``current-context``. A stack's ``kubernetes:kubeconfig`` (a path or the document itself)
and ``kubernetes:cluster`` take precedence, as they do for the provider.

Authentication: a bearer token (``token`` or ``tokenFile``), a client certificate
(``client-certificate[-data]`` with ``client-key[-data]``) or basic auth; the server is verified
against ``certificate-authority[-data]`` unless ``insecure-skip-tls-verify``. Credential plugins
(``exec``, ``auth-provider``) are not run: such a user is an error that says so. No credential is
ever part of an error message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

KUBECONFIG_ENV = "KUBECONFIG"
DEFAULT_KUBECONFIG = Path("~/.kube/config")
DEFAULT_TIMEOUT_SECONDS = 10.0
# Only the object's metadata, where the apiserver supports it (1.15+); the full object otherwise.
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


class KubeconfigMissingError(Exception):
    """No kubeconfig file to read the cluster with."""


class KubernetesError(Exception):
    """A call to the cluster failed; the message names what, never a credential."""


class ConflictError(KubernetesError):
    """409: the object changed since it was read, or already exists. Read it again."""


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach one cluster's apiserver as one user (from a kubeconfig context)."""

    source: str  # the kubeconfig file (or "stack config") and context, for messages
    server: str
    ca_data: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    token: str | None = field(default=None, repr=False)
    # read again for every request: a pod's service-account token is rotated on disk
    token_file: Path | None = None
    client_cert: bytes | None = field(default=None, repr=False)
    client_key: bytes | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def kubeconfig_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The daemon's kubeconfig file, or None when there is none."""
    environ = os.environ if environ is None else environ
    listed = environ.get(KUBECONFIG_ENV)
    if listed:
        for entry in listed.split(os.pathsep):
            if entry and Path(entry).expanduser().is_file():
                return Path(entry).expanduser()
        return None
    default = DEFAULT_KUBECONFIG.expanduser()
    return default if default.is_file() else None


def cluster_access(
    stack_config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ClusterAccess:
    """How a stack reaches its cluster: its ``kubernetes:*`` config over the daemon's kubeconfig.

    Raises :class:`KubeconfigMissingError` when there is no kubeconfig at all and
    :class:`KubernetesError` when the one found cannot be used.
    """
    inline = stack_config.get("kubernetes:kubeconfig")
    if isinstance(inline, str) and inline.strip():
        text = inline.strip()
        if "\n" in text or text.startswith("{"):
            return load_access(text, "the stack's kubernetes:kubeconfig", Path.cwd(), stack_config)
        path = Path(text).expanduser()
    else:
        found = kubeconfig_path(environ)
        if found is None:
            listed = (environ or os.environ).get(KUBECONFIG_ENV)
            where = (
                f"${KUBECONFIG_ENV} ({listed})" if listed else f"${KUBECONFIG_ENV} or {DEFAULT_KUBECONFIG}"
            )
            raise KubeconfigMissingError(f"no kubeconfig: {where} names no file")
        path = found
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KubernetesError(f"{path}: cannot read the kubeconfig ({type(exc).__name__})") from exc
    return load_access(text, str(path), path.parent, stack_config)


def load_access(text: str, source: str, base: Path, stack_config: Mapping[str, Any]) -> ClusterAccess:
    """The access of the context a stack uses, from a kubeconfig document's text."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise KubernetesError(f"{source}{line}: the kubeconfig is not valid YAML") from exc
    if not isinstance(document, Mapping):
        raise KubernetesError(f"{source}: the kubeconfig is not a mapping")
    wanted = stack_config.get("kubernetes:context") or document.get("current-context")
    if not isinstance(wanted, str) or not wanted:
        raise KubernetesError(f"{source}: no context (no current-context, and the stack names none)")
    context = _named(document, "contexts", "context", wanted, source)
    cluster_name = stack_config.get("kubernetes:cluster") or context.get("cluster")
    cluster = _named(document, "clusters", "cluster", str(cluster_name), source)
    user = _named(document, "users", "user", str(context.get("user")), source) if context.get("user") else {}
    where = f"{source}, context {wanted!r}"
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise KubernetesError(f"{where}: the cluster has no https:// server")
    for plugin in ("exec", "auth-provider"):
        if plugin in user:
            raise KubernetesError(
                f"{where}: the user authenticates with an {plugin} plugin, which driftless does not run; "
                "give the daemon a kubeconfig with a token or a client certificate"
            )
    token = user.get("token")
    token_file = None
    if not token and user.get("tokenFile"):
        token = _file(base, user["tokenFile"], where, "tokenFile").decode("utf-8").strip()
        token_file = base / Path(str(user["tokenFile"])).expanduser()
    return ClusterAccess(
        source=where,
        server=server.rstrip("/"),
        ca_data=_data(cluster, "certificate-authority", base, where),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        token=str(token) if token else None,
        token_file=token_file,
        client_cert=_data(user, "client-certificate", base, where),
        client_key=_data(user, "client-key", base, where),
        username=str(user["username"]) if user.get("username") else None,
        password=str(user["password"]) if user.get("password") else None,
    )


def _named(
    document: Mapping[str, Any], section: str, field_name: str, name: str, source: str
) -> dict[str, Any]:
    for entry in document.get(section) or ():
        if (
            isinstance(entry, Mapping)
            and entry.get("name") == name
            and isinstance(entry.get(field_name), Mapping)
        ):
            return dict(entry[field_name])
    raise KubernetesError(f"{source}: no {field_name} named {name!r} in {section}")


def _data(entry: Mapping[str, Any], key: str, base: Path, where: str) -> bytes | None:
    """``<key>-data`` (base64) or the file ``<key>`` names (relative to the kubeconfig's folder)."""
    inline = entry.get(f"{key}-data")
    if inline:
        try:
            return base64.b64decode(str(inline), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubernetesError(f"{where}: {key}-data is not base64") from exc
    if entry.get(key):
        return _file(base, entry[key], where, key)
    return None


def _file(base: Path, name: Any, where: str, key: str) -> bytes:
    path = (base / Path(str(name)).expanduser()).resolve()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KubernetesError(f"{where}: cannot read {key} {path} ({exc.strerror})") from exc


class KubernetesClient:
    """Requests against one cluster's apiserver, each with a timeout."""

    def __init__(self, access: ClusterAccess, timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self.access = access
        self.timeout = timeout

    def get(self, path: str, accept: str = "application/json") -> dict[str, Any]:
        """The object at ``path``; any answer but 200 is a :class:`KubernetesError`."""
        return self._answer(self.request("GET", path, accept=accept), path)

    def find(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``, or None when it does not exist."""
        response = self.request("GET", path)
        return None if response.status_code == 404 else self._answer(response, path)

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST; :class:`ConflictError` when the name is taken."""
        return self._answer(self.request("POST", path, body=body), path)

    def replace(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT; :class:`ConflictError` unless ``metadata.resourceVersion`` is the current one."""
        return self._answer(self.request("PUT", path, body=body), path)

    def delete(self, path: str) -> None:
        response = self.request("DELETE", path)
        if response.status_code != 404:
            self._answer(response, path)

    def secret_resource_version(self, namespace: str, name: str) -> str:
        """The Secret's ``metadata.resourceVersion`` (its data is not asked for where avoidable)."""
        path = secret_path(namespace, name)
        body = self.get(path, accept=METADATA_ONLY)
        version = (body.get("metadata") or {}).get("resourceVersion")
        if not isinstance(version, str) or not version:
            raise KubernetesError(f"{self.access.server}{path}: the answer has no metadata.resourceVersion")
        return version

    def secret_data(self, namespace: str, name: str) -> tuple[str, dict[str, bytes]]:
        """The Secret's ``type`` and its decoded ``data``: for the caller's use only, never to be
        logged or kept (an undecodable value is an error that names its key, not its content)."""
        path = secret_path(namespace, name)
        body = self.get(path)
        data: dict[str, bytes] = {}
        for key, value in (body.get("data") or {}).items():
            try:
                data[str(key)] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise KubernetesError(f"{self.access.server}{path}: data.{key} is not base64") from exc
        return str(body.get("type") or "Opaque"), data

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        accept: str = "application/json",
    ) -> requests.Response:
        access = self.access
        headers = {"Accept": accept}
        token = access.token
        if access.token_file is not None:
            current = _file(access.token_file.parent, access.token_file.name, access.source, "tokenFile")
            token = current.decode("utf-8").strip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        auth = (access.username, access.password or "") if access.username and not token else None
        with tempfile.TemporaryDirectory(prefix="driftless-kube-") as folder:
            verify: bool | str = not access.insecure
            if access.ca_data is not None and not access.insecure:
                verify = _private(Path(folder) / "ca.crt", access.ca_data)
            cert = None
            if access.client_cert is not None and access.client_key is not None:
                cert = (
                    _private(Path(folder) / "client.crt", access.client_cert),
                    _private(Path(folder) / "client.key", access.client_key),
                )
            try:
                return requests.request(
                    method,
                    access.server + path,
                    headers=headers,
                    json=body,
                    auth=auth,
                    verify=verify,
                    cert=cert,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                # Only the type: a request's text can quote its headers.
                raise KubernetesError(
                    f"{access.server}: apiserver unreachable ({type(exc).__name__})"
                ) from exc

    def _answer(self, response: requests.Response, path: str) -> dict[str, Any]:
        if response.status_code == 409:
            raise ConflictError(f"{self.access.server}{path}: {_refusal(response)}")
        if response.status_code not in (200, 201):
            raise KubernetesError(f"{self.access.server}{path}: {_refusal(response)}")
        try:
            body = response.json()
        except ValueError as exc:
            raise KubernetesError(f"{self.access.server}{path}: the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise KubernetesError(f"{self.access.server}{path}: the answer is not an object")
        return body


def secret_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}"


def _private(path: Path, data: bytes) -> str:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return str(path)


def _refusal(response: requests.Response) -> str:
    """Why the apiserver said no: its status and the ``Status`` reason (never the request)."""
    reason = ""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("reason"), str):
            reason = f" ({body['reason']})"
    except ValueError:
        pass
    hints = {
        401: "the kubeconfig's credentials were not accepted",
        403: "the kubeconfig's user may not get it",
        404: "not found",
        409: "changed meanwhile, or already exists",
    }
    return f"HTTP {response.status_code}{reason}: {hints.get(response.status_code, 'unexpected answer')}"
