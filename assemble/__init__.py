"""assemble package."""
