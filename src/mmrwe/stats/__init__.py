"""mmrwe.stats."""
