"""Several collectors, one truth: the store arbitrates.

Any number of collectors may decide the same request; the decision that counts is the
first one the store commits (``consensus.store.Store.record`` refuses a second one for the
same nonce with ``AlreadyDecided``, in the same transaction that would have written it).
A collector that loses feeds the stored decision's votes into its own collector state
machine (:func:`reconcile`): a validator whose stored vote differs from the validly
attested vote it sent this collector has equivocated, and the collector's own rule turns
the two votes into evidence naming it, which is recorded beside the stored decision.
docs/consensus.md, "Several collectors".
"""

from consensus.collector import EvidenceFound, Receive

__all__ = ["reconcile"]


def reconcile(collector, store, nonce) -> list:
    """Feed the stored votes of request ``nonce`` to ``collector`` (which decided the same
    request but lost the race to the store); record and return the evidence found."""
    found = []
    for vote, _counted, _reason, _at in store.votes(nonce):
        for effect in collector.step(Receive(vote, collector.now)):
            if isinstance(effect, EvidenceFound):
                found.append(effect.evidence)
    if found:
        store.add_evidence(found)
    return found
