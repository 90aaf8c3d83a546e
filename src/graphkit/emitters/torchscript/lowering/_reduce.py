"""placeholder"""


def entries() -> dict:
    return {}
