"""`python -m jobs` is the same as the `nightcrew` command."""

from jobs.cli import main

if __name__ == "__main__":
    main()
