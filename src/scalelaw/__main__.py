"""``python -m scalelaw`` runs the command line."""

from scalelaw.cli import main

main()
