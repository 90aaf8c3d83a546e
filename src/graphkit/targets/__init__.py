"""The analysis machinery every backend's target shares: the facts a node is checked
against (base: ValueFacts, NodeContext; _facts: shape and type inference), the TOML tables
under opsets/ (_data) and the table-driven target built on them (_table), the named
predicates the tables cite (_predicates*), and target-independent checks (checks). The
lowest opset a node is valid at is graphkit.min_opset: it reads what the passes can reach.

The targets themselves (one per backend) live in graphkit.backends.<name>/target.py and are
listed in graphkit.backends.BACKENDS, with `get_target`.
"""
