"""Typed models of the files users and other systems hand the station, and the one way their
validation errors are turned into messages a clerk can act on (file, row, field, what to do)."""
