"""fmnist.classroom: password hashes checked against hashlib directly, the round's leaderboard, caps."""
from __future__ import annotations

import base64
import hashlib

import pytest

from fmnist import classroom, names, summary
from fmnist.store import QueueFull, Store


def test_a_scrypt_hash_checks_its_password_only():
    encoded = classroom.hash_password("correct horse", salt=b"s" * 16)
    algorithm, n, r, p, salt, digest = encoded.split("$")
    expected = hashlib.scrypt(b"correct horse", salt=b"s" * 16, n=int(n), r=int(r), p=int(p), dklen=32)
    assert (algorithm, base64.b64decode(salt), base64.b64decode(digest)) == ("scrypt", b"s" * 16, expected)
    assert classroom.check_password("correct horse", encoded)
    assert not classroom.check_password("correct horsE", encoded) and not classroom.check_password("", encoded)
    assert classroom.hash_password("correct horse") != classroom.hash_password("correct horse")  # fresh salt


def test_a_pbkdf2_hash_made_elsewhere_is_read():
    salt = b"pepper-salt"
    digest = hashlib.pbkdf2_hmac("sha256", b"projector", salt, 200_000)
    encoded = f"pbkdf2_sha256$200000${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert classroom.check_password("projector", encoded) and not classroom.check_password("Projector", encoded)


@pytest.mark.parametrize("bad", ["hunter2", "scrypt$16384$8$1$notbase64!$AAAA", "scrypt$1000$8$1$AAAA$AAAA",
                                 "pbkdf2_sha256$1000$AAAA$AAAA", "md5$abc"])
def test_a_setting_that_is_not_a_hash_is_refused_with_what_to_do(bad):
    with pytest.raises(classroom.ClassroomError, match="FMNIST_INSTRUCTOR_PASSWORD_HASH is not a password hash.*"
                                                      "python -m fmnist hash-password"):
        classroom.config_from({classroom.INSTRUCTOR_KEY: bad})


def test_classroom_mode_is_off_without_the_setting_and_the_environment_wins():
    assert not classroom.config_from({}, {}).on
    env_hash, file_hash = classroom.hash_password("from the env"), classroom.hash_password("from the file")
    config = classroom.config_from({classroom.INSTRUCTOR_KEY: env_hash}, {classroom.INSTRUCTOR_KEY: file_hash,
                                                                          classroom.CLASS_KEY: file_hash})
    assert config.on and config.instructor_hash == env_hash and config.class_hash == file_hash
    with pytest.raises(classroom.ClassroomError, match="at least 8 characters"):
        classroom.hash_password("short")


def test_the_class_token_is_derived_from_the_hash_not_the_password():
    encoded = classroom.hash_password("class of 2026")
    token = classroom.class_token(encoded)
    assert classroom.token_ok(token, encoded) and "class of 2026" not in token
    assert not classroom.token_ok(token, classroom.hash_password("class of 2026"))  # another salt, another class
    assert not classroom.token_ok("", encoded) and not classroom.token_ok(None, encoded)


def _finished(store, run_factory, user, val, test):
    run = run_factory("mlp1", name=f"{user} {val}", user=user, status="running")
    store.finish(run.id, {"train_acc": val + 0.02, "val_acc": val, "test_acc": test})
    return store.get(run.id)


def test_leaderboard_ranks_each_students_best_and_reveals_test_only_at_the_end(store, workspace, run_factory):
    ana_low = _finished(store, run_factory, "ana", 0.85, 0.84)
    ana_best = _finished(store, run_factory, "ana", 0.91, 0.90)
    bo_best = _finished(store, run_factory, "bo", 0.89, 0.88)
    failed = run_factory("cnn1", user="cy", status="running")
    store.mark_failed(failed.id, "worker died")
    board = classroom.leaderboard(store, classroom.current_round(store))
    assert board[["Rank", "Student", "Run", "Finished runs"]].values.tolist() == [[1, "ana", ana_best.id, 2],
                                                                                 [2, "bo", bo_best.id, 1]]
    assert board["Test accuracy"].tolist() == [summary.LOCKED] * 2  # cy has no finished run: not on the board
    store.count_test_view(ana_low.id)

    rnd = classroom.reveal_round(store)
    assert rnd.revealed_at is not None and classroom.current_round(store) == rnd
    board = classroom.leaderboard(store, rnd)
    assert board["Test accuracy"].tolist() == [0.90, 0.88]
    assert [store.get(r.id).test_views for r in (ana_low, ana_best, bo_best)] == [1, 1, 1]  # a look per best run

    fresh = classroom.start_round(store)
    assert fresh.revealed_at is None and classroom.leaderboard(store, fresh).empty  # older runs are last round's
    late = _finished(store, run_factory, "bo", 0.80, 0.79)
    assert classroom.leaderboard(store, fresh)[["Student", "Run", "Test accuracy"]].values.tolist() == \
        [["bo", late.id, summary.LOCKED]]


def test_every_app_server_of_a_class_sees_the_same_round(store, run_factory):
    """The round lives in the store, not in one server's workspace: a second server (its own Store) agrees."""
    other = Store(store.url, create=False)
    try:
        assert classroom.current_round(other) == classroom.Round()  # before the first round: everything counts
        begun = classroom.start_round(store)
        assert classroom.current_round(other) == begun and begun.started_at > 0
        shown = classroom.reveal_round(other)
        assert classroom.current_round(store) == shown and shown.started_at == begun.started_at
        assert shown.revealed_at >= begun.started_at
    finally:
        other.close()


def test_caps_override_the_default_and_enqueue_honours_them(store, workspace, run_factory):
    from fmnist import presets
    run_factory("mlp1", user="ana")
    run_factory("mlp1", user="bo", status="running")
    classroom.set_cap(store, "ana", 1)
    frame = classroom.caps_frame(store, workspace)
    assert frame.values.tolist() == [["ana", 1, 1, "instructor"], ["bo", 1, workspace.active_per_user, "default"]]
    with pytest.raises(QueueFull, match="limit is 1 a person"):
        store.enqueue(presets.config_for("mlp1", user="ana", seed=7), "k1", 0, 20, workspace.active_per_user)
    classroom.set_cap(store, "ana", None)
    assert store.enqueue(presets.config_for("mlp1", user="ana", seed=8), "k2", 0, 20, workspace.active_per_user)[1]
    for bad in (-1, classroom.MAX_CAP + 1):
        with pytest.raises(classroom.ClassroomError, match="from 0 to 100"):
            classroom.set_cap(store, "bo", bad)
    with pytest.raises(classroom.ClassroomError, match="Choose a student first"):
        classroom.set_cap(store, " ", 3)


def test_a_name_is_cleaned_and_kept_in_a_cookie_no_name_can_break_out_of():
    assert names.clean("  Ana \t  Lima\x00\n ") == "Ana Lima" and len(names.clean("x" * 99)) == names.MAX_LENGTH
    assert names.from_cookies({names.COOKIE: "Jos%C3%A9%20Mar%C3%ADa"}) == "José María"
    assert names.from_cookies({}) == ""
    script = names.cookie_script('</script><script>alert("x")</script>')
    assert script.count("</script>") == 1 and script.endswith("</script>")
    assert '\\u003c/script>' in script and "Max-Age=15552000" in script
    assert "Max-Age=0" in names.cookie_script("   ")  # an emptied name removes the cookie


def test_runs_on_the_command_line_keeps_test_locked_until_reveal_test(store, workspace, run_factory, capsys,
                                                                      monkeypatch):
    from fmnist import cli
    ana = _finished(store, run_factory, "ana", 0.91, 0.9031)
    _finished(store, run_factory, "bo", 0.88, 0.8712)
    assert cli.main(["runs"]) == 0
    out = capsys.readouterr().out
    assert out.count(summary.LOCKED) == 2 and "0.9031" not in out and "0.9100" in out
    assert cli.main(["runs", "--user", "ana"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == [str(ana.id)]
    assert cli.main(["runs", "--reveal-test"]) == 0
    done = capsys.readouterr()
    assert "test accuracy revealed for 2 runs" in done.err and "0.9031" in done.out and "0.8712" in done.out
    assert store.get(ana.id).test_views == 1


def test_hash_password_prints_a_setting_line_that_checks(monkeypatch, capsys):
    import io

    from fmnist import cli
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    assert cli.main(["hash-password"]) == 0
    key, value = capsys.readouterr().out.strip().split(" = ")
    assert key == classroom.INSTRUCTOR_KEY and classroom.check_password("a long passphrase", value.strip('"'))
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["hash-password", "--students"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
