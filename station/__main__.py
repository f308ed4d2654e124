"""``python -m station`` runs the ``dossier`` command."""

from dossier_station.station.cli import main

main()
