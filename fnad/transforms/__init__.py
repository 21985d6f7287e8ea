"""Graph-to-graph transforms: reverse mode (vjp), forward mode (jvp)."""
