"""`setup --tests` installs Debian's postgresql for the store tests, like chromium for the browser tests."""
from __future__ import annotations

from fmnist import install


def test_found_server_programs_are_reported_without_installing(monkeypatch):
    monkeypatch.setattr(install.glob, "glob", lambda pattern: ["/usr/lib/postgresql/9.6/bin/initdb",
                                                            "/usr/lib/postgresql/15/bin/initdb"])
    monkeypatch.setattr(install, "_apt_install", lambda packages: (_ for _ in ()).throw(AssertionError("no apt")))
    assert install.ensure_postgres() == "postgresql: server programs found in /usr/lib/postgresql/15/bin"


def test_missing_postgres_is_installed_with_apt(monkeypatch):
    installed = []
    monkeypatch.setattr(install.glob, "glob",
                        lambda pattern: ["/usr/lib/postgresql/15/bin/initdb"] if installed else [])
    monkeypatch.setattr(install, "_apt_install", lambda packages: (installed.extend(packages), (True, ""))[1])
    assert install.ensure_postgres() == "postgresql: installed Debian's postgresql (/usr/lib/postgresql/15/bin)"
    assert installed == ["postgresql"]


def test_without_apt_the_tests_are_said_to_skip(monkeypatch):
    monkeypatch.setattr(install.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(install, "_apt_install", lambda packages: (False, "apt-get is not available"))
    assert install.ensure_postgres() == \
        "postgresql: not installed (apt-get is not available); the PostgreSQL tests will be skipped"
