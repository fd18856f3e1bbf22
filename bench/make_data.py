#!/usr/bin/env python3
"""Builds bench/'s reference data set, deterministically: the same bytes on every machine.

    make_data.py DIR [--size smoke|default|large]

DIR/data/ holds
  db/dump.sql     a plain pg_dump of a pgbench database (needs PostgreSQL: the test cluster of
                  scripts/postgres.sh when COFFER_TEST_PG_* are set, else one started here)
  src/            many small text files in nested directories (a source tree)
  bin/            binary-like files: structured records with random fields
  big.bin         one large incompressible file
and DIR/db/dump-changed.sql is the same database after 1% of pgbench_accounts rows changed.
A finished data set is marked DIR/.complete and reused.
"""
import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys

SIZES = {
    #            pgbench scale, small files, binary files (each), big file bytes
    "smoke": dict(scale=1, files=400, bins=(4, 256 << 10), big=8 << 20),
    "default": dict(scale=40, files=20000, bins=(40, 4 << 20), big=256 << 20),
    "large": dict(scale=200, files=100000, bins=(100, 8 << 20), big=4 << 30),
}

WORDS = ("backup restore snapshot chunk index pack key secret vault audit token policy "
         "device user role session record bucket object stream table row column query "
         "config value error retry network storage encrypt verify hash sign commit").split()


def prng_stream(seed: str, n: int) -> bytes:
    """n incompressible bytes from SHA-256 in counter mode: fast enough and portable."""
    out = bytearray()
    counter = 0
    key = seed.encode()
    while len(out) < n:
        block = b"".join(
            hashlib.sha256(key + (counter + i).to_bytes(8, "little")).digest() for i in range(1024))
        out += block
        counter += 1024
    return bytes(out[:n])


def write_big(path: str, n: int) -> None:
    # openssl's AES-CTR keystream is deterministic for a fixed key and IV, and fast.
    with open(path, "wb") as f:
        p = subprocess.Popen(
            ["openssl", "enc", "-aes-256-ctr", "-nosalt", "-K", "00" * 32, "-iv", "00" * 16],
            stdin=subprocess.PIPE, stdout=f)
        zeros = bytes(1 << 20)
        left = n
        while left > 0:
            chunk = zeros[:min(left, len(zeros))]
            p.stdin.write(chunk)
            left -= len(chunk)
        p.stdin.close()
        if p.wait() != 0:
            sys.exit("make_data: openssl enc failed")


def write_source_tree(root: str, files: int) -> None:
    rng = random.Random(42)
    for i in range(files):
        d = os.path.join(root, f"mod{i % 97:02d}", f"pkg{i % 13:02d}")
        os.makedirs(d, exist_ok=True)
        lines = []
        for _ in range(rng.randint(5, 120)):
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))))
        with open(os.path.join(d, f"file{i:06d}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


def write_binaries(root: str, count: int, size: int) -> None:
    os.makedirs(root, exist_ok=True)
    rng = random.Random(7)
    for i in range(count):
        noise = prng_stream(f"bin{i}", size // 2)
        out = bytearray()
        pos = 0
        # Records of a fixed header, a counter and random payload: compressible in part, as
        # executables and database pages are.
        while len(out) < size:
            n = rng.randint(16, 512)
            out += b"\x7fREC" + len(out).to_bytes(8, "little") + bytes(rng.randint(0, 64))
            out += noise[pos:pos + n]
            pos = (pos + n) % max(1, len(noise) - 512)
        with open(os.path.join(root, f"blob{i:03d}.bin"), "wb") as f:
            f.write(out[:size])


def pg_env(work: str):
    """Connection settings of a PostgreSQL server: the tests' if given, else a new cluster."""
    if os.environ.get("COFFER_TEST_PG_PORT"):
        return None, os.environ.copy()
    here = os.path.dirname(os.path.abspath(__file__))
    cluster = os.path.join(work, "pg")
    os.makedirs(cluster, exist_ok=True)
    os.chmod(work, 0o755)
    out = subprocess.run([os.path.join(here, "..", "scripts", "postgres.sh"), "start", cluster],
                         check=True, capture_output=True, text=True).stdout
    env = os.environ.copy()
    for line in out.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            env[k] = v.strip("'\"")
    return cluster, env


def dump_database(work: str, scale: int, dump: str, changed: str) -> None:
    cluster, env = pg_env(work)
    try:
        env["PGHOST"] = env["COFFER_TEST_PG_HOST"]
        env["PGPORT"] = env["COFFER_TEST_PG_PORT"]
        env["PGUSER"] = env["COFFER_TEST_PG_USER"]
        env["PGPASSWORD"] = env["COFFER_TEST_PG_PASSWORD"]
        b = env["COFFER_TEST_PG_BIN"]
        db = "coffer_bench"
        subprocess.run([f"{b}/dropdb", "--if-exists", db], check=True, env=env)
        subprocess.run([f"{b}/createdb", db], check=True, env=env)
        subprocess.run([f"{b}/pgbench", "-i", "-q", "-s", str(scale), db], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def pg_dump(path):
            with open(path, "wb") as f:
                subprocess.run([f"{b}/pg_dump", "--format=plain", "--no-owner", db], check=True,
                               env=env, stdout=f)
            # pg_dump 15.x writes a random \restrict key: strip it so dumps are reproducible.
            with open(path, "rb") as f:
                text = f.read()
            kept = b"\n".join(l for l in text.split(b"\n")
                              if not l.startswith((b"\\restrict", b"\\unrestrict")))
            with open(path, "wb") as f:
                f.write(kept)

        pg_dump(dump)
        # 1% of the accounts change (aid divisible by 100), as a day of a platform's writes.
        subprocess.run([f"{b}/psql", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 100 = 0",
                        db], check=True, env=env, stdout=subprocess.DEVNULL)
        pg_dump(changed)
        subprocess.run([f"{b}/dropdb", db], check=True, env=env)
    finally:
        if cluster:
            here = os.path.dirname(os.path.abspath(__file__))
            subprocess.run([os.path.join(here, "..", "scripts", "postgres.sh"), "stop", cluster],
                           capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--size", choices=SIZES, default="default")
    a = ap.parse_args()
    spec = SIZES[a.size]
    marker = os.path.join(a.dir, ".complete")
    if os.path.exists(marker):
        return
    data = os.path.join(a.dir, "data")
    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(os.path.join(data, "db"))
    os.makedirs(os.path.join(a.dir, "db"))
    print(f"make_data: building the {a.size} data set in {a.dir}", file=sys.stderr)
    dump_database(a.dir, spec["scale"], os.path.join(data, "db", "dump.sql"),
                  os.path.join(a.dir, "db", "dump-changed.sql"))
    shutil.copy(os.path.join(data, "db", "dump.sql"), os.path.join(a.dir, "db", "dump.sql"))
    write_source_tree(os.path.join(data, "src"), spec["files"])
    write_binaries(os.path.join(data, "bin"), *spec["bins"])
    write_big(os.path.join(data, "big.bin"), spec["big"])
    with open(marker, "w") as f:
        f.write(a.size + "\n")


if __name__ == "__main__":
    main()
