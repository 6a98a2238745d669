"""mmrwe.spec."""
