"""The committed results files (``results/*.json``): one way to merge a measurement in.

``make synth SYNTH_ARGS=--record`` and ``make latency LATENCY_ARGS=--record`` each keep one
entry per design or core, stamped with the seed, the command that measured it and the date;
``python -m tools.report`` reads them back.
"""

import json
import time

__all__ = ["record"]


def record(path, where, figures, *, seed, command, header=None, **fields):
    """Merge one measurement into the JSON file ``path`` and write it back (keys sorted).

    ``where`` is the key path of the entry (``("designs", name)``, ``(vendor,)``); the entry
    is ``figures`` with ``seed``, ``command``, today's ``date`` and ``fields``, replacing an
    earlier one. ``header`` (a dict) updates the file's top level. Returns the whole file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(header or {})
    node = data
    for key in where[:-1]:
        node = node.setdefault(key, {})
    node[where[-1]] = dict(figures, seed=seed, command=command, date=time.strftime("%Y-%m-%d"),
                           **fields)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data
