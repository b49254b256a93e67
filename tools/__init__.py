"""pqvote developer tools: Verilog generation and lint (``python -m tools.gen``), synthesis
(``tools.synth``), latency measurement (``tools.latency``) and the bench summary
(``tools.summary``). Tools may import every other package; nothing imports them."""
