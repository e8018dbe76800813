"""What each process of ``firebrick serve`` imports stays what it needs: each package
below cost every process that imported it several MB for its whole life."""

import subprocess
import sys

ROLES = (
    "import firebrick.cli, firebrick.bootstrap, firebrick.metrics.service\n"
    "import firebrick.volume.manager, firebrick.scheduler.manager, firebrick.backup.manager\n"
)
API = (
    "import firebrick.cli, firebrick.bootstrap, firebrick.metrics.service\n"
    "import firebrick.api.app, firebrick.metrics.api_route, uvicorn\n"
)


def loaded(code: str, names: tuple[str, ...]) -> list[str]:
    probe = code + f"import sys\nprint(' '.join(n for n in {names!r} if n in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    return done.stdout.split()


def test_the_roles_process_imports_no_web_framework_eventlet_or_alembic() -> None:
    assert loaded(ROLES, ("fastapi", "eventlet", "alembic", "rich", "requests")) == []


def test_the_api_imports_no_eventlet_alembic_or_command_line_toolkits() -> None:
    assert loaded(API, ("eventlet", "alembic", "rich", "pygments", "jsonschema")) == []


def test_oslo_messaging_still_finds_eventlet_after_the_flows_hid_it() -> None:
    code = ROLES + "import oslo_messaging\n"
    assert loaded(code, ("eventlet", "oslo_messaging")) == ["eventlet", "oslo_messaging"]
