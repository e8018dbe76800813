from pathlib import Path

from sqlalchemy import text

from firebrick.db import migrate, revision
from firebrick.db.engine import Database


def test_head_names_the_newest_migration() -> None:
    assert migrate.head() == revision.HEAD


def test_a_database_is_at_head_only_once_migrated_to_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    db = Database(url)
    try:
        assert not revision.at_head(db)  # no alembic_version table
        migrate.upgrade(url, "0014")
        assert not revision.at_head(db)
        migrate.upgrade(url)
        assert revision.at_head(db)
        with db.write() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0016'"))
        assert not revision.at_head(db)  # a newer schema than this code: not ours to touch
    finally:
        db.dispose()


def test_upgrade_apart_migrates_without_importing_alembic_here(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    # A fresh interpreter: this one has imported Alembic for the tests above.
    code = (
        "import sys\n"
        "from firebrick.db import revision\n"
        "from firebrick.db.engine import Database\n"
        "revision.upgrade_apart(sys.argv[1])\n"
        "assert revision.at_head(Database(sys.argv[1]))\n"
        "assert 'alembic' not in sys.modules, 'alembic imported in the parent'\n"
    )
    subprocess.run([sys.executable, "-c", code, url], check=True, timeout=120)


def test_a_failed_upgrade_apart_ends_the_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "f.sqlite").write_text("not a database")
    code = "import sys\nfrom firebrick.db import revision\nrevision.upgrade_apart(sys.argv[1])\n"
    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "The database schema upgrade failed" in done.stderr
