"""atheris (libFuzzer) on the output parser: any bytes, any n and range; the parser must not raise
and must obey its contract (n in-range scores, or a failure with a known reason)."""

import sys

import atheris

with atheris.instrument_imports():
    from spct.core.parse import FAILURE_CODES, parse_judgment


def one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    n, lenient = fdp.ConsumeIntInRange(1, 6), fdp.ConsumeBool()
    parsed = parse_judgment(fdp.ConsumeUnicodeNoSurrogates(4096), n, lenient=lenient)
    if parsed.scores is None:
        assert parsed.failure.split(":")[0] in FAILURE_CODES
    else:
        assert len(parsed.scores) == n and all(1 <= s <= 10 for s in parsed.scores)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
