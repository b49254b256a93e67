"""Classic McEliece mceliece348864 decapsulation engine (vendor ``arm``); see docs/mceliece.md."""
