"""Adapters at the edge: implementations of the ports with real infrastructure (AWS, files, SQL)."""
