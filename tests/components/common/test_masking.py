"""Credentials by name and in URLs: which names are credentials, and what masking leaves readable."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.common.masking import (
    SECRET,
    holds_credentials,
    is_credential_name,
    is_credential_parameter,
    mask_text,
    mask_tree,
    mask_url,
)


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "Password",
        "PASSWORD",
        "passwd",
        "passphrase",
        "db_password",
        "adminPassword",
        "secret",
        "client_secret",
        "clientSecret",
        "webhook-secret",
        "token",
        "refresh_token",
        "bearerToken",
        "private_token",
        "api_key",
        "apiKey",
        "APIKey",
        "x-api-key",
        "secret_key",
        "secretAccessKey",
        "AWS_SECRET_ACCESS_KEY",
        "private_key",
        "privateKey",
        "ssh_key",
        "signingKey",
        "credentials",
        "credential",
        "bearer",
        "auth",
        "basicAuth",
        "Authorization",
        "admin/password",  # ClickHouse user settings
        "apikey",  # glued words
        "apisecret",
        "accesstoken",
        "clientsecret",
        "privatekey",
        "FIVETRAN_APISECRET",
        "VAULT_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
    ],
)
def test_credential_names_are_recognised(name: str):
    assert is_credential_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "key",  # a selector's or a secretKeyRef's key: the name of a key, not a credential
        "keys",
        "keyspace",
        "monkey",
        "turnkey",
        "secretName",
        "secretRef",
        "secretRefs",
        "secretKeyRef",
        "privateKeySecretRef",
        "tokenUrl",
        "token_type",
        "authType",
        "auth_method",
        "password_file",
        "passwordHash",
        "driftless.dev/credentials-hash",
        "credentialsSecretName",
        "topologyKey",
        "public_key",
        "primary_key",
        "sort_key",
        "ssl_key",  # a file's path
        "access_key_id",
        "private_key_id",
        "GIT_CONFIG_KEY_0",
        "PULUMI_CONFIG_PASSPHRASE_FILE",
        "secretive",
        "tokenizer",
        "vaultReferences",
        "name",
        "value",
        "",
        "___",
    ],
)
def test_names_that_only_mention_a_credential_are_not_credentials(name: str):
    assert not is_credential_name(name)


@pytest.mark.parametrize(
    "name", ["key", "sig", "signature", "X-Amz-Signature", "pass", "access_token", "token"]
)
def test_url_parameters_that_carry_credentials(name: str):
    assert is_credential_parameter(name)


@pytest.mark.parametrize("name", ["ref", "page", "keyspace", "sort_key", "tokenUrl", "branch"])
def test_url_parameters_that_do_not(name: str):
    assert not is_credential_parameter(name)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://user:pass@host/x?private_token=t0k&ref=main",
            "https://[secret]@host/x?private_token=[secret]&ref=main",
        ),
        ("https://ghp_abc123@github.com/acme/api.git", "https://[secret]@github.com/acme/api.git"),
        ("https://bot:p@ss@host/x", "https://[secret]@host/x"),  # git takes the authority's last '@'
        (
            "https://host/x?key=AIza&sig=abc%3D&X-Amz-Signature=ff&page=2",
            "https://host/x?key=[secret]&sig=[secret]&X-Amz-Signature=[secret]&page=2",
        ),
        ("ssh://git@host/acme/api.git", "ssh://git@host/acme/api.git"),  # ssh's account, no credential
        ("https://host/acme/api@v2.git", "https://host/acme/api@v2.git"),  # '@' in the path
        ("https://host/x?token=&ref=main", "https://host/x?token=&ref=main"),  # nothing to hide
        ("https://host/x", "https://host/x"),
    ],
)
def test_only_the_credential_parts_of_a_url_are_masked(url: str, masked: str):
    assert mask_url(url) == masked
    assert mask_url(masked) == masked


def test_credentials_in_free_text_are_masked_and_the_rest_kept():
    text = (
        "git ls-remote https://bot:hunter2@git.corp/x.git failed (see https://h/a?access_token=zz9.); "
        "password=hunter2, Authorization: Basic dXNlcjpwYXNz and Bearer eyJhbGciOiJIUzI1NiJ9.x"
    )
    assert mask_text(text) == (
        "git ls-remote https://[secret]@git.corp/x.git failed (see https://h/a?access_token=[secret].); "
        "password=[secret], Authorization: Basic [secret] and Bearer [secret]"
    )


def test_credentials_inside_json_text_are_masked():
    text = json.dumps(
        {
            "bucket": "acme",
            "secret_key": "PLANTED-1",
            "secrets_list": [
                {"key": "bearer_token", "value": "PLANTED-2"},
                {"key": "base_url", "value": "u"},
            ],
            "endpoint": "https://h/?private_token=PLANTED-3",
        },
        sort_keys=True,
    )
    masked = json.loads(mask_text(text))
    assert masked == {
        "bucket": "acme",
        "secret_key": SECRET,
        "secrets_list": [{"key": "bearer_token", "value": SECRET}, {"key": "base_url", "value": "u"}],
        "endpoint": f"https://h/?private_token={SECRET}",
    }


def test_a_private_key_block_is_masked_whole():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\n"
    assert mask_text(f"key.pem: |\n{pem}") == f"key.pem: |\n{SECRET}\n"
    certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    assert mask_text(certificate) == certificate


def test_ordinary_text_is_left_alone():
    for text in (
        "a connector_sdk connection has no auth: put credentials in config",
        "spec.auth: unknown field",
        "image=harbor.corp.com/api:1.2 replicas=3",
        "topologyKey: kubernetes.io/hostname",
        "basic authentication is off",
    ):
        assert mask_text(text) == text


def test_a_tree_is_masked_by_name_and_by_pair_and_keeps_what_is_harmless():
    tree = {
        "config": {"bucket": "b", "secret_key": "s", "port": 5432, "password": 1234, "secrets": ["a", "b"]},
        "env": [
            {"name": "DB_PASSWORD", "value": "p"},
            {"name": "SSL_KEY", "value": "/etc/ssl/x.key"},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "imagePullSecrets": [{"name": "regcred"}],
        "volume": {"secret": {"secretName": "certs"}},
        "automountServiceAccountToken": False,
        "skipChildToken": "true",
        "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
        "token": "[computed]",
        "auth": "",
        "url": "https://u:p@h/x",
    }
    assert mask_tree(tree) == {
        "config": {
            "bucket": "b",
            "secret_key": SECRET,
            "port": 5432,
            "password": SECRET,
            "secrets": [SECRET] * 2,
        },
        "env": [
            {"name": "DB_PASSWORD", "value": SECRET},
            {"name": "SSL_KEY", "value": "/etc/ssl/x.key"},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "imagePullSecrets": [{"name": "regcred"}],
        "volume": {"secret": {"secretName": "certs"}},
        "automountServiceAccountToken": False,
        "skipChildToken": "true",
        "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
        "token": "[computed]",
        "auth": "",
        "url": f"https://{SECRET}@h/x",
    }


def test_holds_credentials_says_whether_anything_would_be_masked():
    assert holds_credentials({"config": {"apiKey": "x"}})
    assert holds_credentials({"endpoint": "https://h/?token=x"})
    assert not holds_credentials({"bucket": "b", "role_arn": "arn:aws:iam::1:role/r", "is_sandbox": False})
    assert not holds_credentials({"secret_key": "", "token_url": "https://h/oauth"})


@given(st.text(alphabet=st.sampled_from(list("ab=:&?@/\"' _-.[]tokenpasswrdhtps")), max_size=60))
def test_masking_twice_changes_nothing(text: str):
    once = mask_text(text)
    assert mask_text(once) == once
