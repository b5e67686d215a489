"""placeholder"""
EXPECTED = {}
def expected_failures(mode):
    return dict(EXPECTED)
