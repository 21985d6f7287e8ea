"""Graph-to-graph optimization passes and the pipeline that orders them."""

from fnad.passes.pipeline import optimize  # noqa: F401
