"""The station in a browser (floor 4): scan, check, catalogue, build — on the CLI's own functions."""
