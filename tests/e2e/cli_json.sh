#!/bin/sh
# One JSON writer for every command: a process that maps a file whose name is
# not UTF-8 (Latin-1 bytes, as /proc shows them) gives valid JSON from
# `winmem maps --json`, with U+FFFD where the bytes were.
. tests/programs/cli_common.sh
D=$B/tests/cli-json
mkdir -p "$D"
python3 - "$W" "$D" <<'PY' || fails=1
import json, mmap, os, subprocess, sys
w, d = sys.argv[1], sys.argv[2].encode()
name = os.path.join(os.path.abspath(d), b"caf\xe9-\xff.bin")
with open(name, "wb") as f:
    f.write(b"x" * 4096)
f = open(name, "rb")
m = mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ)   # keep it mapped while winmem reads /proc
out = subprocess.run([w, "maps", str(os.getpid()), "--json"], capture_output=True).stdout
m.close(); f.close(); os.unlink(name)
try:
    doc = json.loads(out.decode("utf-8"))   # strict: invalid UTF-8 or bad escapes raise
except Exception as e:
    print("FAIL maps --json with a Latin-1 file name is not valid JSON:", e); sys.exit(1)
names = [r["Name"] for r in doc["regions"]]
if not any(n.endswith("caf\ufffd-\ufffd.bin") for n in names):
    print("FAIL the mapped file is not named with U+FFFD:", [n for n in names if "caf" in n]); sys.exit(1)
print("ok   maps --json: valid JSON, the Latin-1 file name with U+FFFD")
PY
verdict cli_json
