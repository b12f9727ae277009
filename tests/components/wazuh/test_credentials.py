"""bcrypt hashes for Vault-sourced indexer passwords."""

from __future__ import annotations

import bcrypt
import pytest

from components.wazuh.credentials import bcrypt_hash

SALT = bytes(range(16))


def test_hash_verifies_and_is_stable_for_a_fixed_salt():
    hashed = bcrypt_hash("S3cret.pass-A", SALT, cost=4)
    assert bcrypt.checkpw(b"S3cret.pass-A", hashed.encode())
    assert not bcrypt.checkpw(b"S3cret.pass-B", hashed.encode())
    assert bcrypt_hash("S3cret.pass-A", SALT, cost=4) == hashed
    assert hashed.startswith("$2a$04$")


def test_another_salt_gives_another_hash():
    assert bcrypt_hash("pw", SALT, cost=4) != bcrypt_hash("pw", bytes(16), cost=4)


def test_salt_must_be_sixteen_bytes():
    with pytest.raises(ValueError, match="16 bytes"):
        bcrypt_hash("pw", b"short", cost=4)
