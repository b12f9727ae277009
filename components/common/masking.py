"""Credentials recognised by name, and masked as ``[secret]`` wherever they would be shown.

A Pulumi secret is masked because the runtime marks it; this module catches what nobody marked: a
literal written under a name that says "credential" (``secret_key: …``, ``bearerToken: …``) and
the credential parts of a URL (``https://user:pass@host``, ``?private_token=…``). The components
use it to decide what to send as a Pulumi secret; the renderer, the review diff and the daemon's
logs use it to decide what never to print. One rule for all of them, so what the program treats as
a secret is exactly what the tools hide.

The rule for a name (a mapping key, a field, an environment variable, a URL query parameter):

- it is cut into lowercase words at ``_``, ``-``, ``.``, ``/`` and camelCase humps
  (``AWS_SECRET_ACCESS_KEY`` and ``secretAccessKey`` give the same words, ``x-api-key`` and
  ``api_key`` too);
- its **last** word decides, so what a name *is* counts, not what it is about: ``client_secret``,
  ``refreshToken``, ``password``, ``passphrase``, ``credentials``, ``bearer``, ``auth`` and
  ``authorization`` are credentials, while ``secretName``, ``secretKeyRef``, ``secretRefs``,
  ``tokenUrl``, ``password_file`` and ``credentials_hash`` name or describe one and are not;
- ``key``/``keys`` is a credential only right after a word that makes it one (``api``,
  ``secret``, ``private``, ``access``, ``client``, ``signing``, ``encryption``, ``ssh``… the
  list is ``_SECRET_KEY_QUALIFIERS``): ``api_key``, ``apiKey``, ``secret_key``, ``private_key``
  are; a bare ``key`` (a Kubernetes selector, a ``secretKeyRef``'s key name), ``topologyKey``,
  ``public_key``, ``primary_key`` and ``ssl_key`` (a file's path) are not; ``keyspace`` and
  ``monkey`` are single words that are not credential words at all;
- a single word glued from a qualifier and a credential word counts too: ``apikey``,
  ``apisecret``, ``accesstoken``, ``privatekey``, ``clientsecret``.

A URL query parameter is also a credential when it is a bare ``key`` (``?key=`` of an API key)
or its last word is ``sig``, ``signature``, ``pass`` or ``pw`` (``?sig=`` of a SAS URL,
``X-Amz-Signature``).

What is masked under such a name is a value that can carry one: a non-empty string or a number,
also inside a list. Booleans (``automountServiceAccountToken: false``, or ``"true"`` as a provider
takes it), nulls and mappings are not: a mapping under ``credentials`` is judged key by key, so
``imagePullSecrets: [{name: …}]`` keeps its names.

In free text (messages, config files, JSON held in a string) the shapes masked are a URL's
credential parts, ``"<name>": "…"`` and ``<name>=…`` under a credential name, ``Authorization:
<scheme> …``, ``Bearer …`` and a PEM private key block.

A name/value pair (``{name: DB_PASSWORD, value: …}``, ``{key: bearer_token, value: …}``, as in
Kubernetes env and Fivetran ``secrets_list``) masks its ``value`` when the name is a credential.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

SECRET = "[secret]"

_CREDENTIAL_WORDS = frozenset(
    {
        "password",
        "passwords",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "credential",
        "credentials",
        "bearer",
        "auth",
        "authorization",
    }
)
_KEY_WORDS = frozenset({"key", "keys"})
# Words before "key" that make it a credential. An allow-list, because Kubernetes and its operators
# name many harmless fields "...Key" (topologyKey, a selector's labelKey); "ssl_key"/"tls_key" are
# left out too: they hold a file's path, and a key's PEM text is caught wherever it appears.
_SECRET_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "client",
        "auth",
        "session",
        "signing",
        "encryption",
        "decryption",
        "master",
        "account",
        "storage",
        "shared",
        "license",
        "app",
        "consumer",
        "subscription",
        "hmac",
        "sas",
        "ssh",
        "webhook",
        "deploy",
        "personal",
        "admin",
        "user",
        "service",
        "cookie",
        "jwt",
        "aes",
        "cipher",
    }
)
# Prefixes that, glued to a credential word or to "key", still make one word: apikey, accesstoken.
_GLUED_QUALIFIERS = ("api", "access", "secret", "private", "client", "auth", "refresh", "session", "bearer")
_GLUED_WORDS = frozenset(
    qualifier + word for qualifier in _GLUED_QUALIFIERS for word in (*_CREDENTIAL_WORDS, *_KEY_WORDS)
)
_URL_PARAMETER_WORDS = frozenset({"sig", "signature", "pass", "pw"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SEPARATOR = re.compile(r"[^A-Za-z0-9]+")
# A bracketed placeholder a tool printed in place of a value ([secret], [computed]): not a value.
_PLACEHOLDER = re.compile(r"^\[[a-z]+\]$")


def words(name: str) -> list[str]:
    """``name`` cut into lowercase words: ``secretAccessKey`` and ``SECRET_ACCESS_KEY`` alike."""
    return [word.lower() for piece in _SEPARATOR.split(name) for word in _WORD.findall(piece)]


@functools.lru_cache(maxsize=4096)  # the same few hundred keys, in every resource of every render
def is_credential_name(name: str) -> bool:
    """Whether a value under ``name`` is a credential (the rule is in the module docstring)."""
    found = words(name)
    if not found:
        return False
    last = found[-1]
    if last in _CREDENTIAL_WORDS:
        return True
    if last in _KEY_WORDS:
        return len(found) >= 2 and found[-2] in _SECRET_KEY_QUALIFIERS
    return last in _GLUED_WORDS


def is_credential_parameter(name: str) -> bool:
    """Whether a URL query parameter carries a credential: ``private_token``, ``key``, ``sig``…"""
    found = words(name)
    return found == ["key"] or (bool(found) and found[-1] in _URL_PARAMETER_WORDS) or is_credential_name(name)


# --- URLs and free text -------------------------------------------------------------------------

# A URL in free text: scheme://, then everything up to whitespace, a quote or an angle bracket.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`\\]*[^\s\"'<>`\\.,;:)\]]")
# scheme://userinfo@ — the authority ends at the first / ? #, and git takes its last '@'.
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#]*)@")
_QUERY_PARAMETER = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#]+)=(?P<value>[^&;#]*)")
# "password": "…" / 'password': '…' (JSON, Python reprs) and password=… (logs, URLs, env).
_QUOTED_PAIR = re.compile(
    r"""(?P<quote>["'])(?P<name>[A-Za-z_][\w.-]*)(?P=quote)(?P<separator>\s*:\s*)"""
    r"""(?P<open>["'])(?P<value>(?:\\.|(?!(?P=open)).)*)(?P=open)"""
)
# {"key": "bearer_token", "value": "…"} and {"name": "DB_PASSWORD", "value": "…"} written out as text.
_QUOTED_NAME_VALUE = re.compile(
    r"""(?P<head>(?P<q1>["'])(?:name|key)(?P=q1)\s*:\s*(?P<q2>["'])(?P<name>[^"']*)(?P=q2)\s*,\s*"""
    r"""(?P<q3>["'])value(?P=q3)\s*:\s*)(?P<open>["'])(?P<value>(?:\\.|(?!(?P=open)).)*)(?P=open)"""
)
_ASSIGNMENT = re.compile(
    r"""(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)=(?P<value>\[[a-z]+\]|[^\s&;,'"]*[^\s&;,'".:)\]])"""
)
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]*PRIVATE KEY)-----.*?-----END (?P=label)-----", re.DOTALL
)
_BEARER = re.compile(r"\b(?P<scheme>[Bb]earer|BEARER)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})")
# Authorization: Basic dXNlcjpwYXNz — the scheme is kept, the value is not.
_AUTHORIZATION = re.compile(
    r"""(?i)\b(?P<head>authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest)\s+)?)"""
    r"""(?P<value>[^\s"',;]+)"""
)


def mask_url(url: str) -> str:
    """``url`` with its credential parts replaced by ``[secret]``; everything else is kept.

    ``https://user:pass@host/x?private_token=t&ref=main`` becomes
    ``https://[secret]@host/x?private_token=[secret]&ref=main``. A bare ``git@`` user (ssh) is
    the account git hosts serve clones as, not a credential: kept.
    """
    url = _USERINFO.sub(_mask_userinfo, url, count=1)
    return _QUERY_PARAMETER.sub(_mask_parameter, url)


def mask_text(text: str) -> str:
    """Free text (a message, a config file, a JSON string) with every credential it shows masked:
    URLs' credential parts, ``"<credential name>": "…"``, ``<credential name>=…``,
    ``Authorization: …``, ``Bearer …`` and PEM private keys. Masking twice changes nothing."""
    if not text:
        return text
    if "://" in text:
        text = _URL.sub(lambda match: mask_url(match.group(0)), text)
    if "=" in text:
        text = _ASSIGNMENT.sub(_mask_assignment, text)
    if ":" in text:
        text = _QUOTED_PAIR.sub(_mask_quoted_pair, text)
        text = _QUOTED_NAME_VALUE.sub(_mask_quoted_name_value, text)
    if "PRIVATE KEY-----" in text:
        text = _PRIVATE_KEY_BLOCK.sub(SECRET, text)
    text = _AUTHORIZATION.sub(_mask_authorization, text)
    return _BEARER.sub(lambda match: f"{match['scheme']} {SECRET}", text)


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match["scheme"], match["userinfo"]
    if userinfo in ("git", SECRET) or not userinfo:
        return match.group(0)
    return f"{scheme}{SECRET}@"


def _mask_parameter(match: re.Match[str]) -> str:
    if not match["value"] or not is_credential_parameter(match["name"]) or match["value"] == SECRET:
        return match.group(0)
    return f"{match['lead']}{match['name']}={SECRET}"


def _mask_assignment(match: re.Match[str]) -> str:
    if not is_credential_name(match["name"]) or _PLACEHOLDER.match(match["value"]):
        return match.group(0)
    return f"{match['name']}={SECRET}"


def _mask_quoted_pair(match: re.Match[str]) -> str:
    if not match["value"] or not is_credential_name(match["name"]) or _PLACEHOLDER.match(match["value"]):
        return match.group(0)
    quote, open_quote = match["quote"], match["open"]
    return f"{quote}{match['name']}{quote}{match['separator']}{open_quote}{SECRET}{open_quote}"


def _mask_authorization(match: re.Match[str]) -> str:
    if _PLACEHOLDER.match(match["value"]):
        return match.group(0)
    return f"{match['head']}{SECRET}"


def _mask_quoted_name_value(match: re.Match[str]) -> str:
    if not match["value"] or not is_credential_name(match["name"]) or _PLACEHOLDER.match(match["value"]):
        return match.group(0)
    return f"{match['head']}{match['open']}{SECRET}{match['open']}"


# --- nested values (JSON-like trees) ------------------------------------------------------------

_PAIR_NAMES = ("name", "key")


def can_carry_credential(value: Any) -> bool:
    """A value worth masking under a credential name: a non-empty string or a number, not a
    placeholder. Booleans and nulls say nothing; mappings are judged by their own keys."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        return bool(value) and not _PLACEHOLDER.match(value) and value.lower() not in ("true", "false")
    return isinstance(value, int | float)


def credential_fields(mapping: Mapping[Any, Any]) -> set[Any]:
    """The keys of ``mapping`` whose values are credentials by name.

    A credential-named key holding a string or number, or holding a list (its strings and numbers
    are masked one by one); and the ``value`` of a ``{name|key: <credential name>, value: …}`` pair.
    """
    found = {key for key, item in mapping.items() if isinstance(key, str) and is_credential_name(key)}
    found = {key for key in found if can_carry_credential(mapping[key]) or isinstance(mapping[key], list)}
    if "value" in mapping:
        for pair_name in _PAIR_NAMES:
            label = mapping.get(pair_name)
            if isinstance(label, str) and is_credential_name(label):
                found.add("value")
                break
    return found


def mask_tree(value: Any, text: Callable[[str], str] = mask_text) -> Any:
    """A copy of a JSON-like ``value`` with every credential by name masked, and every string
    passed through ``text`` (by default :func:`mask_text`)."""
    return _mask(value, text, under_credential=False)


def holds_credentials(value: Any) -> bool:
    """Whether ``value`` shows a credential anywhere: what :func:`mask_tree` would change."""
    return mask_tree(value) != value


def _mask(value: Any, text: Callable[[str], str], under_credential: bool) -> Any:
    if under_credential and can_carry_credential(value):
        return SECRET
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        secret = credential_fields(value)
        return {key: _mask(item, text, key in secret) for key, item in value.items()}
    if isinstance(value, list | tuple):
        # a list under a credential name masks its scalars; its mappings decide for themselves
        return [_mask(item, text, under_credential) for item in value]
    return value
