"""`python -m evalkit` runs the same CLI as the `evalkit` console script."""

from evalkit.cli import main

if __name__ == "__main__":
    main()
