"""Write constraints.txt: every package of the tested stack at the version a clean resolve picks.

    python scripts/pin_constraints.py [--out constraints.txt]

pip resolves ``torch==2.13.0 -e .[dev,docs,neurobench]`` as on an empty environment
(``--dry-run --ignore-installed --report``: nothing is installed), and the file pins every
package of that resolve, plus the packages installed with ``--no-deps`` beside it (sinabs,
pbr, neurobench: their declared dependencies conflict with the stack). The README's commands
and ``.ci/run`` install with ``-c constraints.txt``, so a release made tomorrow cannot change
what a new user gets; ``scripts/check_unpinned.py`` shows what such releases would change.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["REQUIREMENTS", "NO_DEPS", "resolve", "main"]

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ["torch==2.13.0", "-e", f"{ROOT}[dev,docs,neurobench]"]
# installed with --no-deps (sinabs declares nir<=1.0.4, neurobench torchaudio and tonic)
NO_DEPS = ["sinabs==3.1.3", "pbr==7.1.3", "neurobench==2.3.0"]


def resolve(requirements: list[str], constraints: Path | None = None) -> dict[str, str]:
    """{name: version} of what pip would install for ``requirements`` on an empty environment.

    Raises RuntimeError with pip's own message when no consistent set exists.
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
        command += ["--quiet", "--report", str(report), *requirements]
        if constraints is not None:
            command += ["-c", str(constraints)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or done.stdout.strip())
        installs = json.loads(report.read_text())["install"]
    return {  # local labels dropped: torch==2.13.0 also matches 2.13.0+cpu
        item["metadata"]["name"].lower(): item["metadata"]["version"].split("+")[0]
        for item in installs
        if item["metadata"]["name"].lower() != "neuroemu"
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "constraints.txt"), help="file to write")
    args = parser.parse_args(argv)
    pins = resolve(REQUIREMENTS)
    for line in NO_DEPS:
        name, version = line.split("==")
        pins.setdefault(name, version)
    lines = [
        "# The tested stack, from a clean resolve by scripts/pin_constraints.py (do not edit).",
        f"# Python {sys.version_info.major}.{sys.version_info.minor}; install with -c constraints.txt",
        *(f"{name}=={version}" for name, version in sorted(pins.items())),
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}: {len(pins)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
