"""Password hashing: argon2id (argon2-cffi), at the cost the app's account policy names.
argon2 loads only when a password is hashed or checked."""

from __future__ import annotations

import secrets
from contextlib import suppress
from typing import TYPE_CHECKING

from engine.domain.accounts import MAX_PASSWORD, Policy

if TYPE_CHECKING:
    from argon2 import PasswordHasher

_STAND_IN: dict[Policy, str] = {}


def hasher(policy: Policy) -> PasswordHasher:
    """argon2id with the policy's parameters (`check_needs_rehash` compares a stored hash's
    parameters with these)."""
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=policy.hash_time_cost, memory_cost=policy.hash_memory_kib,
                          parallelism=policy.hash_parallelism, type=Type.ID)


def verify(policy: Policy, hashed: str | None, password: str) -> bool:
    """Whether `password` is the one `hashed` holds. Without a hash a stand-in is checked all
    the same, so that a name without a password takes as long to refuse as a wrong one."""
    from argon2.exceptions import InvalidHashError, VerificationError

    h = hasher(policy)
    if hashed is None:
        if policy not in _STAND_IN:
            _STAND_IN[policy] = h.hash(secrets.token_urlsafe(16))
        with suppress(VerificationError, InvalidHashError):
            h.verify(_STAND_IN[policy], password[:MAX_PASSWORD])
        return False
    try:
        return h.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
