"""Classroom mode: the instructor's password check, the round's leaderboard and the per-student caps.

Off unless an instructor password hash is set (FMNIST_INSTRUCTOR_PASSWORD_HASH in the environment or in
.streamlit/secrets.toml). Hashes are scrypt or PBKDF2-SHA256 strings that `python -m fmnist hash-password` prints;
a password is checked against one in constant time."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from fmnist import summary
from fmnist.settings import Settings
from fmnist.store import ACTIVE, Store

INSTRUCTOR_KEY = "FMNIST_INSTRUCTOR_PASSWORD_HASH"
CLASS_KEY = "FMNIST_CLASS_PASSWORD_HASH"
# scrypt's cost: about 16 MiB and 50 ms a check, so guessing is slow and a class logging in at once is not.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
PBKDF2_MIN_ITERATIONS = 100_000
MAX_CAP = 100
NO_NAME = "(no name)"
HOW_TO_HASH = "Make one with `python -m fmnist hash-password` and paste the line it prints."


class ClassroomError(ValueError):
    """A bad classroom setting or request; the message says what to do."""


@dataclass(frozen=True)
class ClassroomConfig:
    instructor_hash: str | None = None
    class_hash: str | None = None

    @property
    def on(self) -> bool:
        return bool(self.instructor_hash)


def config_from(env: Mapping[str, str], secrets: Mapping | None = None) -> ClassroomConfig:
    """The classroom settings: the environment first (a deployment's override), then secrets.toml.

    A value that is not a hash this lab reads raises ClassroomError naming the setting."""
    def one(key: str) -> str | None:
        value = (env.get(key) or (secrets or {}).get(key) or "").strip()
        if value:
            _parse(value, key)
        return value or None
    return ClassroomConfig(one(INSTRUCTOR_KEY), one(CLASS_KEY))


# -- passwords -----------------------------------------------------------------------------------------------
def hash_password(password: str, salt: bytes | None = None) -> str:
    """scrypt$N$r$p$salt$digest (base64): what goes into FMNIST_INSTRUCTOR_PASSWORD_HASH."""
    if len(password) < 8:
        raise ClassroomError("Choose a password of at least 8 characters.")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the hash; the digests are compared in constant time."""
    algorithm, params, salt, expected = _parse(encoded, "the password hash")
    if algorithm == "scrypt":
        n, r, p = params
        got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected))
    else:
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, params[0], dklen=len(expected))
    return hmac.compare_digest(got, expected)


def class_token(class_hash: str) -> str:
    """What a student's browser keeps once the class password was right: derived from the hash, never the password."""
    return hmac.new(class_hash.encode(), b"fmnist-class-member", hashlib.sha256).hexdigest()


def token_ok(token: str | None, class_hash: str) -> bool:
    return bool(token) and hmac.compare_digest(token.encode(), class_token(class_hash).encode())


def _parse(encoded: str, what: str) -> tuple[str, tuple[int, ...], bytes, bytes]:
    parts = encoded.strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            params = tuple(int(v) for v in parts[1:4])
            if params[0] < 2 or params[0] & (params[0] - 1) or min(params) < 1:
                raise ValueError("N must be a power of two")
            return "scrypt", params, _unb64(parts[4]), _unb64(parts[5])
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4 and int(parts[1]) >= PBKDF2_MIN_ITERATIONS:
            return "pbkdf2_sha256", (int(parts[1]),), _unb64(parts[2]), _unb64(parts[3])
    except ValueError:
        pass
    raise ClassroomError(f"{what} is not a password hash this lab reads (scrypt$N$r$p$salt$hash, or "
                         f"pbkdf2_sha256$iterations$salt$hash with at least {PBKDF2_MIN_ITERATIONS:,} iterations). "
                         f"{HOW_TO_HASH}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc


# -- the round -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Round:
    """What the leaderboard counts: runs created since `started_at`; test accuracy shown once revealed."""
    started_at: float = 0.0
    revealed_at: float | None = None


def current_round(store: Store) -> Round:
    """The latest round, kept in the store so every app server of a class sees the same one."""
    latest = store.latest_round()
    return Round(*latest) if latest else Round()


def start_round(store: Store) -> Round:
    """A new round from now: an empty leaderboard, test accuracy hidden again."""
    store.start_round(time.time())
    return current_round(store)


def reveal_round(store: Store) -> Round:
    """The end of the round: the leaderboard shows test accuracy, and each best run shown counts one look."""
    for row in leaderboard(store, current_round(store)).itertuples():
        store.count_test_view(int(row.Run))
    store.reveal_round(time.time())
    return current_round(store)


LEADERBOARD_COLUMNS = ["Rank", "Student", "Run", "Model", "Val accuracy", "Finished runs", "Test views",
                       "Test accuracy"]


def leaderboard(store: Store, rnd: Round = Round()) -> pd.DataFrame:
    """Each student's best finished run of the round by validation accuracy (the earlier one of a tie)."""
    finished = [r for r in store.runs(statuses=("finished",), limit=1_000_000)
                if r.val_acc is not None and r.created_at >= rnd.started_at]
    best: dict[str, object] = {}
    counts: dict[str, int] = {}
    for run in sorted(finished, key=lambda r: (-r.val_acc, r.id)):
        who = run.user or NO_NAME
        counts[who] = counts.get(who, 0) + 1
        best.setdefault(who, run)
    rows = [{"Student": who, "Run": run.id, "Model": run.name, "Val accuracy": run.val_acc,
             "Finished runs": counts[who], "Test views": run.test_views,
             "Test accuracy": run.test_acc if rnd.revealed_at else summary.LOCKED}
            for who, run in sorted(best.items(), key=lambda kv: (-kv[1].val_acc, kv[1].id))]
    frame = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS[1:])
    frame.insert(0, "Rank", range(1, len(frame) + 1))
    return frame


# -- caps ----------------------------------------------------------------------------------------------------
def caps_frame(store: Store, settings: Settings) -> pd.DataFrame:
    """Every student with their active runs and the cap that applies (theirs, or the server's default)."""
    caps = store.user_caps()
    users = sorted(set(store.users()) | set(caps))
    return pd.DataFrame([{"Student": u, "Active runs": store.count(statuses=ACTIVE, user=u),
                          "Cap": caps.get(u, settings.active_per_user),
                          "Cap set by": "instructor" if u in caps else "default"} for u in users],
                        columns=["Student", "Active runs", "Cap", "Cap set by"])


def set_cap(store: Store, user: str, cap: int | None) -> None:
    """A student's own cap on active runs (0 pauses them); None returns them to the server's default."""
    if not user.strip():
        raise ClassroomError("Choose a student first.")
    if cap is not None and not 0 <= int(cap) <= MAX_CAP:
        raise ClassroomError(f"A cap is a number of runs from 0 to {MAX_CAP}.")
    store.set_user_cap(user, None if cap is None else int(cap))
