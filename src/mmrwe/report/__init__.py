"""mmrwe.report."""
