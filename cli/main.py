"""The `kaizen` console script."""

import sys

from cli.app import main as _main


def main() -> None:
    sys.exit(_main())


if __name__ == "__main__":
    main()
