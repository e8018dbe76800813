"""oslo.policy's registered checks (``http:``) load only when a rule names one."""

import subprocess
import sys


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    return done.stdout.strip()


def test_cinder_rules_decide_without_loading_the_extension_checks() -> None:
    code = (
        "import sys\n"
        "from firebrick.context import RequestContext\n"
        "from firebrick.policy import Policy\n"
        "p = Policy()\n"
        "ctx = RequestContext(user_id='u', project_id='p', roles=('member',))\n"
        "print(p.allows(ctx, 'volume:create'), p.is_admin(ctx), 'requests' in sys.modules)\n"
    )
    assert run(code) == "True False False"


def test_a_rule_naming_an_extension_kind_still_loads_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"volume:create": "http://127.0.0.1:9/check"\n')
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from firebrick.policy import Policy\n"
        f"p = Policy(Path({str(policy_file)!r}))\n"
        "print(type(p._enforcer.rules['volume:create']).__name__)\n"
    )
    assert run(code) == "HttpCheck"
