"""mmrwe.figures."""
