"""``python -m station`` runs the ``dossier`` command."""

from station.cli import main

main()
