"""LUT levels between flip-flops in a synthesised ECP5 netlist (the census of docs/fpga.md).

``python -m tools.depth build/synth/<design>/<design>.json [--at-least N] [--trace PATTERN]``
reads the yosys JSON that ``python -m tools.synth`` leaves beside its logs and counts, for
every endpoint (a flip-flop's data, enable or set/reset input, a block RAM's or multiplier's
input), the logic levels of its deepest path from a start point (a flip-flop's or memory's
output, or a port). A ``LUT4`` counts 1, a ``PFUMX`` / ``L6MUX21`` 0.5 (they widen a LUT
inside its slice); a carry cell ``CCU2C`` counts 1 from its LUT inputs and ``--carry``
(0.1) along the chain from ``CIN``. These are levels, not nanoseconds: the router decides
the wires, which are most of a path's delay on this part; the census shows where logic is
deep before a route is run, and which endpoints a change moved.

Output: a histogram of endpoints per level (the deepest levels), then each endpoint at or
above ``--at-least`` with its cell, port and net; ``--trace PATTERN`` prints the chain of
the first endpoint whose cell or net matches, deepest input first.
"""

import argparse
import json
import re
import sys
from collections import Counter

#: Level of each combinational cell type (``CCU2C``: from its LUT inputs; see ``--carry``).
LEVELS = {"LUT4": 1.0, "PFUMX": 0.5, "L6MUX21": 0.5, "CCU2C": 1.0}


def _top(netlist):
    mods = netlist["modules"]
    tops = [m for m in mods.values() if m.get("attributes", {}).get("top")]
    return tops[0] if tops else max(mods.values(), key=lambda m: len(m.get("cells", {})))


class Census:
    """Levels of every net and endpoint of one flattened module of a yosys JSON netlist."""

    def __init__(self, netlist, *, carry=0.1):
        mod = _top(netlist)
        self.cells = mod["cells"]
        self.names = {}
        for name, net in mod["netnames"].items():
            for bit in net["bits"]:
                if isinstance(bit, int) and (bit not in self.names or
                                             self.names[bit].startswith("$") and not name.startswith("$")):
                    self.names[bit] = name
        self.carry = carry
        self.driver = {}          # bit -> (cell, level, inputs, carry inputs)
        self.endpoints = []       # (cell, port, bit)
        for cname, cell in self.cells.items():
            kind, dirs, conns = cell["type"], cell.get("port_directions", {}), cell["connections"]
            bits = lambda port: [b for b in conns.get(port, []) if isinstance(b, int)]
            if kind in LEVELS:
                ins = [b for p in conns if dirs.get(p) == "input" and p != "CIN" for b in bits(p)]
                cin = bits("CIN") if kind == "CCU2C" else []
                for p in conns:
                    if dirs.get(p) == "output":
                        for b in bits(p):
                            self.driver[b] = (cname, LEVELS[kind], ins, cin)
            else:
                self.endpoints += [(cname, p, b) for p in conns if dirs.get(p) == "input"
                                   for b in bits(p)]
        self._level = {}

    def level(self, bit):
        """Logic levels of the deepest path into ``bit`` (0 at a start point)."""
        # iterative depth-first walk: carry chains are thousands of cells deep
        stack, on_path = [(bit, False)], set()
        while stack:
            b, expanded = stack.pop()
            if b in self._level:
                continue
            if b not in self.driver:
                self._level[b] = 0.0
                continue
            _, lvl, ins, cin = self.driver[b]
            if not expanded:
                on_path.add(b)
                stack.append((b, True))
                for i in ins + cin:
                    if i in on_path:
                        raise ValueError(f"combinational loop through {self.names.get(i, i)}")
                    if i not in self._level:
                        stack.append((i, False))
                continue
            on_path.discard(b)
            best = max((self._level[i] for i in ins), default=0.0) + lvl
            if cin:
                best = max(best, max(self._level[i] for i in cin) + self.carry)
            self._level[b] = round(best, 6)
        return self._level[bit]

    def histogram(self):
        return Counter(self.level(b) for _, _, b in self.endpoints)

    def deep(self, at_least):
        """Endpoints at ``at_least`` levels or more, deepest first: (levels, cell, port, net)."""
        rows = [(self.level(b), c, p, self.names.get(b, str(b))) for c, p, b in self.endpoints]
        return sorted((r for r in rows if r[0] >= at_least), reverse=True)

    def chain(self, bit):
        """The deepest path into ``bit``: (levels, net, cell type) from the endpoint back."""
        out = []
        while bit in self.driver:
            cname, _, ins, cin = self.driver[bit]
            out.append((self.level(bit), self.names.get(bit, str(bit)), self.cells[cname]["type"]))
            cands = ins + cin
            if not cands:
                break
            bit = max(cands, key=self.level)
        out.append((0.0, self.names.get(bit, str(bit)), "start"))
        return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.depth", description=__doc__.split("\n\n")[0])
    parser.add_argument("netlist", help="a yosys JSON netlist (build/synth/<design>/<design>.json)")
    parser.add_argument("--at-least", type=float, default=7.0, help="list endpoints this deep (7)")
    parser.add_argument("--carry", type=float, default=0.1, help="level of one carry-chain step (0.1)")
    parser.add_argument("--trace", metavar="PATTERN", help="print the chain of the first match")
    args = parser.parse_args(argv)
    try:
        with open(args.netlist) as f:
            census = Census(json.load(f), carry=args.carry)
    except (OSError, ValueError, KeyError) as e:
        print(f"depth: cannot read {args.netlist}: {e}", file=sys.stderr)
        return 2
    hist = census.histogram()
    print("endpoints per level (deepest 8):",
          ", ".join(f"{lvl:g}: {n}" for lvl, n in sorted(hist.items())[-8:]))
    for lvl, cell, port, net in census.deep(args.at_least):
        print(f"{lvl:6.1f}  {cell}.{port}  ({net})")
    if args.trace:
        for cell, port, bit in census.endpoints:
            if re.search(args.trace, f"{cell} {census.names.get(bit, '')}"):
                print(f"chain into {cell}.{port}:")
                for lvl, net, kind in census.chain(bit):
                    print(f"  {lvl:6.1f}  {net}  ({kind})")
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
