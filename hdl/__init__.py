"""pqvote gateware in Amaranth HDL.

Shared blocks (the Keccak permutation and sponge), the common validator interface
(:mod:`hdl.validator`), the seed-compatible flat wrapper (:mod:`hdl.wrapper`), one package
per algorithm engine, and the registry of complete cores (:mod:`hdl.cores`).
"""
