"""mmrwe.cli."""
