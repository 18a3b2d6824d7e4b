"""Print the validation table of the hardware models against published silicon figures.

Same output as ``neuroemu validate-models``. Run: ``python scripts/validate_models.py
[--json FILE] [--markdown FILE]``; the documentation's table is
``python scripts/validate_models.py --json docs/figures/validation.json --markdown
docs/figures/validation.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hwmodels import validation


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows as a JSON list")
    parser.add_argument("--markdown", help="also write the table as Markdown (for the docs)")
    args = parser.parse_args(argv)
    rows = validation.rows()
    print(validation.table(rows))
    if args.json:
        validation.write_json(rows, args.json)
        print(f"wrote {args.json}")
    if args.markdown:
        command = "python scripts/validate_models.py --markdown " + args.markdown
        Path(args.markdown).write_text(validation.markdown(rows, command))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
