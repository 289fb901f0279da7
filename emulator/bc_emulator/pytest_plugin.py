"""Pytest fixtures that start the BC emulator (filled in with the emulator)."""
