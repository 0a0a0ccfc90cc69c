"""Latency simulation for offload runs: cost profiles (shipped and calibrated) and the per-segment cost model.

`profile` holds the cost profile type and JSON I/O, `profiles` the shipped ones and lookup by name or file,
`latency` the cost model, `calibrate` measures a profile on the user's own engine. Everything here except
`calibrate` reads files only.
"""
