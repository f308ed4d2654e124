"""devices/emulators package."""
