"""Bit-exact golden models of everything the pqvote RTL computes.

Each module is written from its standard and owns the constants the hardware uses
(round constants, zetas, …), so the RTL imports its tables from here.
"""
