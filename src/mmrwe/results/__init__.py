"""mmrwe.results."""
