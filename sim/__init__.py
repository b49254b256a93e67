"""pqvote simulation: the Verilator runner, cocotb test modules and their helpers."""
