"""pqvote backends: run requests through the RTL cores in simulation (:mod:`backends.rtl`)."""
