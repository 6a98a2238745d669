"""``python -m mmrwe``: the ``mmrwe`` command, for environments without its script on PATH."""

from mmrwe.cli.main import main

if __name__ == "__main__":
    main()
