#!/bin/sh
# Fuzz the broker's frame decoding (tests/fuzz/fuzz_frame.c) with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   tests/fuzz/run.sh [SECONDS]      (default 60; needs a configured tree,
#                                     clang and libclang-rt-14-dev)
#
# Seeds are a few valid frames made here; the corpus grows in
# tests/fuzz/corpus (not kept by git) and a crash is written to
# tests/fuzz/crash-*. Not part of `make check`: inputs that once failed
# become cases in tests/unit/test_frame.c.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
out=tests/fuzz
cc=${CLANG:-clang}

[ -f proto/tupelo.pb-c.c ] || make proto/tupelo.pb-c.c
$cc -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I. -Iproto $(pkg-config --cflags libprotobuf-c) \
    $out/fuzz_frame.c proto/frame.c proto/validate.c proto/wire.c \
    proto/error.c proto/tupelo.pb-c.c storage/record.c \
    $(pkg-config --libs libprotobuf-c libzstd) -o $out/fuzz_frame

mkdir -p $out/corpus $out/seeds
python3 - "$out/seeds" <<'EOF'
import sys

def varint(n):
    b = bytearray()
    while True:
        if n < 0x80:
            b.append(n)
            return bytes(b)
        b.append((n & 0x7f) | 0x80)
        n >>= 7

def field(num, data):
    if isinstance(data, int):
        return varint(num << 3) + varint(data)
    return varint(num << 3 | 2) + varint(len(data)) + data

def message(payload, msg_id=b"", headers=()):
    m = b"".join(field(1, field(1, k) + field(2, v)) for k, v in headers)
    if msg_id:
        m += field(2, msg_id)
    return m + field(3, payload)

seeds = {
    "produce1": field(1, 7) + field(30, field(1, b"orders") +
        field(2, message(b"hello"))),
    "produce3": field(1, 8) + field(30, field(1, b"orders") +
        field(2, message(b"a" * 40, b"id-1", [(b"k", b"v")])) +
        field(2, message(b"")) +
        field(2, message(b"\x00\xff", b"", [(b"x", b""), (b"y", b"z")]))),
    "hello": field(1, 1) + field(10, field(1, b"tupelo-fuzz")),
    "station_create": field(1, 2) + field(20, field(1, field(1, b"s"))),
    "ack": field(1, 3) + field(44, field(1, b"s") + field(2, b"g")),
}
for name, data in seeds.items():
    with open(f"{sys.argv[1]}/{name}", "wb") as f:
        f.write(data)
EOF

cd $out
./fuzz_frame -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix=./ corpus seeds
