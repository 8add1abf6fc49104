"""Print the schema's SDL, or write it: `python -m schema.export [--write]`.

`schema/schema.graphql` is the committed copy; tests/graphql/test_sdl.py fails when it drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path

SDL_PATH = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    from schema.schema import schema

    return schema.as_str().rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = sdl()
    if "--write" in args:
        SDL_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SDL_PATH}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
