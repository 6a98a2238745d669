"""mmrwe.validate."""
