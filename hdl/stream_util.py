"""Stream layouts and small stream blocks shared by the validator shell and the engines.

* :data:`Word` — one 64-bit word of a key, proof or ciphertext stream, ``last`` on the final
  word (the unit of every stream the shell exchanges with the outside and with engines).
"""

from amaranth.hdl import unsigned
from amaranth.lib import data

__all__ = ["Word"]


#: One 64-bit word of a key, proof or ciphertext stream, ``last`` on the final word.
#: Byte ``8w + k`` of the byte string is ``data[8k+7 : 8k]`` (little-endian).
Word = data.StructLayout({"data": unsigned(64), "last": unsigned(1)})
