"""Energy, power and latency models of Loihi, Akida and the NCS2, and comparison reports."""
