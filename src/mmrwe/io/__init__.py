"""mmrwe.io."""
