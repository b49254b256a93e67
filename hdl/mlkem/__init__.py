"""ML-KEM-512 decapsulation core (vendor ``intel``, FIPS 203); see docs/mlkem.md."""
