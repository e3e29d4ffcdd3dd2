"""The version of what normalisation produces: a change to any normalising rule bumps it, and invalidates caches and continuous-mapping state."""

NORMALISER_VERSION = "1"
