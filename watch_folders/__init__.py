"""watch_folders package."""
