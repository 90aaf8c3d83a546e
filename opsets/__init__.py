"""Per-target facts as data (TOML), read by graphkit.targets._data; generated/ holds tool output."""
