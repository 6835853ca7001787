"""``python -m svtk`` runs the command-line interface."""

from svtk.cli import main

if __name__ == "__main__":
    main()
