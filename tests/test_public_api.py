"""Guards the public surface: adding to it is a decision, not an accident."""

import graphkit

EXPECTED = {
    "Finding", "GraphkitError", "InputError", "Report", "Severity", "__version__", "load", "save",
}


def test_public_api_is_what_we_decided():
    assert set(graphkit.__all__) >= EXPECTED
    extra = set(graphkit.__all__) - EXPECTED - {"diagnose", "fix", "convert", "validate"}
    assert not extra, f"unexpected public names: {sorted(extra)}"
    for name in graphkit.__all__:
        assert hasattr(graphkit, name), name
