"""pqvote backends: run requests through the RTL cores in simulation (:mod:`backends.rtl`,
:mod:`backends.cluster`), and the software McEliece decapsulator of the ``software`` vote
source (:mod:`backends.mceliece_fast`)."""
