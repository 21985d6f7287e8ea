"""The IR (specs, variables, nodes, graphs), primitives, tracing and the interpreter."""
