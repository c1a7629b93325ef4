"""How long a damaged stored document takes to refuse: the ``.sto`` encodings, a fuzz of one-to-four changed bytes.

    python bench/stored_damage.py [--documents 20000] [--seed 1]

Encodes one Reuters-sized article's stored fields three ways: as the
``.sto`` files hold them now (``stored.encoded``: marshal and a CRC-32,
read back with ``stored.decoded``), as they held them before (a protocol-5
pickle, ``pickle.loads``), and marshal without the checksum. Then changes
one to four random bytes of each, ``--documents`` times (the same changes
for every encoding), decodes each damaged copy and prints, per encoding,
the slowest decode, how many took over 0.1 s, and how many were refused,
misread (decoded to something else) or read unchanged. A decode that
stalls is a server request that stalls: marshal and pickle trust the
lengths they read (a damaged one can ask for gigabytes).
"""
from __future__ import annotations

import argparse
import pickle
import random
import sys
import time
import zlib
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARTICLE = {"author": "", "body": "The central bank said rates would stay unchanged. " * 12, "group": "g1",
           "id": "reut-01234", "published": datetime(1987, 3, 2, 10, 5), "source": "reuters",
           "title": "Bank holds rates", "topics": "interest", "url": "", "year": "1987"}


def encodings():
    from searchsvc import stored

    checked = stored.encoded(ARTICLE)

    def unchecked(raw: bytes) -> dict:  # ``stored.decoded`` after a checksum that always matches
        return stored.decoded(raw + stored._CRC.pack(zlib.crc32(raw)))

    return {
        "marshal + CRC-32 (now)": (checked, stored.decoded),
        "pickle (SSVCSTO1)": (pickle.dumps(ARTICLE, stored.PROTOCOL), pickle.loads),
        "marshal, no checksum": (checked[:-stored._CRC.size], unchecked),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--documents", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    for name, (raw, decode) in encodings().items():
        rng = random.Random(args.seed)
        slowest, slow, refused, misread, same = 0.0, 0, 0, 0, 0
        for _ in range(args.documents):
            damaged = bytearray(raw)
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            started = time.perf_counter()
            try:
                found = decode(bytes(damaged))
            except Exception:  # any refusal will do: the engine then reads Whoosh's column
                refused += 1
            else:
                same += found == ARTICLE
                misread += found != ARTICLE
            spent = time.perf_counter() - started
            slowest, slow = max(slowest, spent), slow + (spent > 0.1)
        print(f"{name:>24}: slowest {slowest:7.3f} s, {slow} over 0.1 s; refused {refused}, misread {misread}, "
              f"read unchanged {same} (of {args.documents})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
