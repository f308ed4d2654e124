"""The station: the pipeline that composes capture, ocr and assemble, and the ``dossier`` CLI."""

from dossier_station.core import __version__

__all__ = ["__version__"]
