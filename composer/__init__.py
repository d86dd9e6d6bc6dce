"""composer: compose music with neural sequence models (LSTM, transformer, WaveNet)."""

__version__ = "0.1.0"
