"""The ground floor: what every area needs and that needs nothing of ours.

The error family and exit codes (``errors``), the station profile (``profile``), the custody
journal (``journal``) and the plain data handed between areas (``model``). Nothing here imports
another package of this project, so every floor above may import it.
"""

__version__ = "0.1.0"
