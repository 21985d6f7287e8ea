"""Code generation: graphs to source text. Nothing here compiles or runs code."""
