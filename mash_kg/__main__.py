"""`python -m mash_kg` works like `mash-kg`."""

from mash_kg.cli import main

if __name__ == "__main__":
    main()
