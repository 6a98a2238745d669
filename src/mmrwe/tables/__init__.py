"""mmrwe.tables."""
