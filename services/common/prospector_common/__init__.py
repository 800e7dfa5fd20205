"""Pieces every service shares: settings, IDs, run storage, the catalog, Redis streams."""
