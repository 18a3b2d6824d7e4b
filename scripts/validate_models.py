"""Print the validation table of the hardware models against published silicon figures.

Same output as ``neuroemu validate-models``. Run: ``python scripts/validate_models.py
[--json FILE]``
"""

from __future__ import annotations

import argparse

from hwmodels import validation


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows as a JSON list")
    args = parser.parse_args(argv)
    rows = validation.rows()
    print(validation.table(rows))
    if args.json:
        validation.write_json(rows, args.json)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
