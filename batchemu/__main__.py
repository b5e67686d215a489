"""`python -m batchemu`: the same as the `batchemu` command."""

from batchemu.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
