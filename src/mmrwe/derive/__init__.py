"""mmrwe.derive."""
