#!/usr/bin/env bash
# fuzz/make_corpus.sh OUTDIR: writes a seed corpus for every fuzz target to OUTDIR/<target>/ and
# libFuzzer dictionaries to OUTDIR/<target>.dict. Generated, never committed:
#   - coffer_fuzz_seeds (fuzz/make_seeds.cpp) writes the binary inputs, sealed with the targets'
#     fixed keys (packs, index objects, manifests, trees, key files, audit logs, file caches...);
#   - this script adds the text samples (coffer.toml, S3 XML, URLs, names, times, schedules);
#   - when the coffer binary has been built ($COFFER_FUZZ_BUILD_DIR/tools/coffer), a real
#     repository made with `coffer init` and `coffer backup` in a temporary directory adds its
#     pack, index object, snapshot, key files and recovery key.
# COFFER_FUZZ_BUILD_DIR defaults to build/fuzz (the fuzz preset's build directory).
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
build=${COFFER_FUZZ_BUILD_DIR:-$root/build/fuzz}
seeds=$build/fuzz/coffer_fuzz_seeds
if [[ ! -x $seeds ]]; then
    echo "make_corpus.sh: $seeds is missing: build the fuzz preset first (fuzz/run.sh does)" >&2
    exit 1
fi

mkdir -p "$out"
"$seeds" "$out"

# put TARGET NAME TEXT: one seed file with exactly TEXT (printf %s, no trailing newline added).
put() {
    mkdir -p "$out/$1"
    printf '%s' "$3" >"$out/$1/$2"
}
# put_mode TARGET NAME MODE FILE: a mode byte (decimal), then the file's bytes.
put_mode() {
    mkdir -p "$out/$1"
    { printf "\\$(printf '%03o' "$3")"; cat "$4"; } >"$out/$1/$2"
}

# ---- config_fuzz: coffer.toml ----------------------------------------------------------------
put config_fuzz full.toml '[repository]
url = "s3:https://s3.example.com:9000/backups/hosts/db1"
host_key = "/etc/coffer/host.key"
recovery_key_file = "/root/recovery.key"
mirrors = ["/mnt/usb/coffer"]
cache_dir = "/var/cache/coffer"
access_key_id = "AKIAEXAMPLE"
secret_access_key = "secret"
region = "eu-central-1"
connections = 16
object_lock_mode = "governance"
object_lock_days = 30

[server]
state_dir = "/var/lib/coffer"
listen = "[::1]:9180"
webhook_url = "https://hooks.example.com/coffer"
on_failure = "logger coffer failed"
catch_up = true
prune = true
prune_grace = "1h30m"
prune_max_unused = 0.25

[[set]]
name = "platform"
rpo = "1h"
rto = "4h"
pre_restore = "systemctl stop platform"
post_restore = "systemctl start platform"
health_check = "curl -fsS http://127.0.0.1:8080/healthz"
min_size = 1024
max_shrink = 0.5
on_shrink = "warn"
tags = ["prod", "nightly"]
schedule = "30 2 * * mon-fri"
timezone = "Europe/Berlin"
retention = { keep_last = 3, keep_daily = 7, keep_weekly = 4, keep_within = "2d" }

  [[set.source]]
  name = "db"
  type = "postgres"
  dsn = "postgresql://postgres@127.0.0.1:5432/platform"
  roles = false

  [[set.source]]
  name = "state"
  type = "sqlite"
  path = "/var/lib/platform/state.db"

  [[set.source]]
  name = "config"
  type = "files"
  paths = ["/etc/platform"]
  exclude = ["*.tmp", "cache/**"]

  [[set.source]]
  name = "recordings"
  type = "s3"
  url = "s3:http://127.0.0.1:9000/recordings"

  [[set.source]]
  name = "directory"
  type = "command"
  backup_command = "slapcat"
  restore_command = "slapadd"

[[set]]
name = "small"
schedule = "@every 6h"

  [set.retention]
  keep_last = 10
  keep_yearly = 2

  [[set.source]]
  name = "etc"
  type = "files"
  paths = ["/etc"]
'
put config_fuzz minimal.toml '[repository]
url = "/srv/backup"
'
put config_fuzz bad.toml '[repository]
url = 3
[[set]]
name = "bad name!"
rpo = "1x"
'

# ---- s3_xml_fuzz: ListObjectsV2 pages, an error body, a timestamp ------------------------------
put s3_xml_fuzz list.xml '<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>backups</Name><Prefix>hosts/db1/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
  <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <Contents><Key>hosts/db1/packs/ab/ab%20cd</Key><LastModified>2026-11-23T16:46:00.123Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>16777216</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>hosts/db1/config</Key><LastModified>2026-01-01T00:00:00Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>0</Size></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>'
put s3_xml_fuzz literal.xml '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>100%25 &amp; more</Key><Size>1</Size></Contents></ListBucketResult>'
put s3_xml_fuzz error.xml '<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>'
put s3_xml_fuzz timestamp '2026-11-23T16:46:00.000Z'

# ---- s3_url_fuzz ------------------------------------------------------------------------------
put s3_url_fuzz url1 's3:https://s3.eu-central-1.amazonaws.com/backups/hosts/db1'
put s3_url_fuzz url2 's3:http://127.0.0.1:9000/bucket'
put s3_url_fuzz url3 's3:http://[::1]:9000/my.bucket-1/a/b/c/'

# ---- names_fuzz: object names and entry names ---------------------------------------------------
put names_fuzz pack 'packs/3f/3fa2c0ffee'
put names_fuzz index 'index/0123456789abcdef'
put names_fuzz config 'config'
put names_fuzz dotdot 'snapshots/../config'
put names_fuzz entry 'report (final).pdf'
put names_fuzz audit 'audit/0a1b2c3d/log/000000000000-000000000002'

# ---- rfc3339_fuzz and schedule_fuzz -------------------------------------------------------------
put rfc3339_fuzz utc '2026-11-23T16:46:00.123456789Z'
put rfc3339_fuzz offset '2026-11-23 17:46:00+01:00'
put rfc3339_fuzz date '2026-11-23'
put schedule_fuzz cron '30 2 * * mon-fri
Europe/Berlin'
put schedule_fuzz steps '*/15 0-6,22,23 1,15 jan-mar,dec */2'
put schedule_fuzz every '@every 1h30m'
put schedule_fuzz daily '@daily
America/New_York'
put schedule_fuzz duration '2w3d4h5m6s'

# ---- pg_dsn_fuzz: a length byte and a database name to put in, then the DSN ------------------
put pg_dsn_fuzz uri "$(printf '\x07')restorepostgresql://backup:s3cr%40t@127.0.0.1:5432/platform?sslmode=require"
put pg_dsn_fuzz keywords "$(printf '\x05')x' hohost=db.internal port=5433 dbname='app db' user=coffer password='it''s secret'"
put pg_dsn_fuzz socket "$(printf '\x01')zpostgresql:///platform?host=/var/run/postgresql"

# ---- dictionaries ---------------------------------------------------------------------------------
json_dict='"{"
"}"
"["
"]"
":"
","
"\""
"\\u0000"
"\\ud83d\\ude00"
"true"
"false"
"null"
"-1"
"0"
"1e400"
"-1e400"
"1.5"
"9223372036854775807"
"-9223372036854775808"
"18446744073709551615"
"18446744073709551616"
"1e19"'
printf '%s\n' "$json_dict" '"\"version\""' '"\"time_ns\""' '"\"hostname\""' '"\"key_id\""' \
    '"\"paths\""' '"\"tags\""' '"\"tree\""' '"\"refs\""' '"\"sequence\""' '"\"previous\""' \
    '"\"incomplete\""' '"\"summary\""' '"\"duration_s\""' '"\"set\""' '"\"sources\""' \
    '"\"snapshots\""' '"\"reason\""' '"\"id\""' >"$out/snapshot_fuzz.dict"
printf '%s\n' "$json_dict" '"coffer-host-key v1"' '"\x0Arepository "' '"\x0Akey-id "' '"\x0Ahost "' \
    '"\x0Arecovery-public-key "' '"\x0Achunk-id-key "' '"\x0Ametadata-key "' '"\x0Asigning-key "' \
    '"\"format\""' '"\"coffer-repository\""' '"\"chunker\""' '"\"avg_size\""' \
    '"\"compression\""' '"\"level\""' '"\"pack_size\""' '"\"recovery_public_key\""' \
    '"\"signing_public_key\""' '"\"status\""' >"$out/keyfile_fuzz.dict"
printf '%s\n' "$json_dict" '"\"schema\""' '"\"coffer.audit.entry/v1\""' '"\"origin\""' \
    '"\"index\""' '"\"time\""' '"\"actor\""' '"\"host\""' '"\"action\""' '"\"target\""' \
    '"\"outcome\""' '"\"error\""' '"\"details\""' '"\"audit.key.activate\""' \
    '"\"audit.key.retire\""' '"\"key\""' '"\"key_id\""' '"\"ok\""' '"\"refused\""' \
    '"T00:00:00Z"' '".123456789Z"' >"$out/audit_entry_fuzz.dict"
printf '%s\n' "$json_dict" '"\"pid\""' '"\"host\""' '"\"purpose\""' '"\"machine\""' \
    '"\"start_ticks\""' '"\"stale_after_ns\""' '"\"created_ns\""' '"\"refreshed_ns\""' \
    >"$out/locks_fuzz.dict"
printf '%s\n' '"<ListBucketResult>"' '"</ListBucketResult>"' '"<Contents>"' '"</Contents>"' \
    '"<Key>"' '"</Key>"' '"<Size>"' '"</Size>"' '"<ETag>"' '"</ETag>"' '"<LastModified>"' \
    '"</LastModified>"' '"<IsTruncated>true</IsTruncated>"' '"<NextContinuationToken>"' \
    '"</NextContinuationToken>"' '"<EncodingType>url</EncodingType>"' '"<Error>"' '"<Code>"' \
    '"<Message>"' '"&amp;"' '"&quot;"' '"&#13;"' '"&#x10FFFF;"' '"<![CDATA["' '"]]>"' \
    '"<!DOCTYPE"' '"<!ENTITY"' '"%20"' '"%"' '"9999-12-31T23:59:59.999999999Z"' \
    '"1677-01-01T00:00:00Z"' '"2262-04-12T00:00:00Z"' >"$out/s3_xml_fuzz.dict"
printf '%s\n' '"[repository]"' '"[server]"' '"[[set]]"' '"[[set.source]]"' '"[set.retention]"' \
    '"[[set.drill_check]]"' '"="' '"url"' '"name"' '"type"' '"\"postgres\""' '"\"sqlite\""' \
    '"\"files\""' '"\"s3\""' '"\"command\""' '"paths"' '"dsn"' '"path"' '"schedule"' \
    '"timezone"' '"retention"' '"keep_last"' '"keep_within"' '"rpo"' '"rto"' '"max_shrink"' \
    '"min_size"' '"on_shrink"' '"connections"' '"object_lock_mode"' '"object_lock_days"' \
    '"listen"' '"prune_grace"' '"prune_max_unused"' '"mirrors"' '"\"@every 1s\""' \
    '"\"* * * * *\""' '"\"Europe/Berlin\""' '"\"1h30m\""' '"1e400"' '"nan"' '"inf"' \
    '"9223372036854775807"' '"-9223372036854775808"' '"0x7fffffffffffffff"' \
    '"1979-05-27T07:32:00Z"' '"\"\"\""' "\"'''\"" '"{ }"' >"$out/config_fuzz.dict"
printf '%s\n' '"@every "' '"@hourly"' '"@daily"' '"@weekly"' '"@monthly"' '"@yearly"' '"*/"' \
    '"-"' '","' '"mon"' '"sun"' '"jan"' '"dec"' '"\x0A"' '"UTC"' '"Europe/Berlin"' \
    '"America/New_York"' '"Australia/Lord_Howe"' '"36500d"' '"9223372036854775807s"' \
    >"$out/schedule_fuzz.dict"

# ---- a real repository, when the coffer binary exists ----------------------------------------------
coffer=$build/tools/coffer
if [[ -x $coffer ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/home" "$tmp/data/sub"
    printf 'hello\n' >"$tmp/data/a.txt"
    head -c 100000 /dev/zero | tr '\0' 'x' >"$tmp/data/sub/big.txt"
    ln -s a.txt "$tmp/data/link"
    if HOME=$tmp/home "$coffer" -q -r "$tmp/repo" --host-key "$tmp/host.key" init \
        --recovery-key-out "$tmp/recovery.key" >/dev/null 2>&1 &&
        HOME=$tmp/home "$coffer" -q -r "$tmp/repo" --host-key "$tmp/host.key" backup \
            "$tmp/data" >/dev/null 2>&1; then
        first() { find "$tmp/repo/$1" -type f | sort | head -1; }
        [[ -n $(first packs) ]] && put_mode pack_fuzz cli_pack 0 "$(first packs)"
        [[ -n $(first index) ]] && put_mode index_fuzz cli_index 0 "$(first index)"
        [[ -n $(first snapshots) ]] && put_mode snapshot_fuzz cli_snapshot 0 "$(first snapshots)"
        put_mode keyfile_fuzz cli_host_key 0 "$tmp/host.key"
        put_mode keyfile_fuzz cli_config 1 "$tmp/repo/config"
        pub=$(find "$tmp/repo/keys" -name '*.pub' | head -1)
        [[ -n $pub ]] && put_mode keyfile_fuzz cli_registry 2 "$pub"
        put_mode recovery_key_fuzz cli_recovery_key 0 "$tmp/recovery.key"
        # A backup file without its checksum (archive_fuzz appends it), and registry files.
        if HOME=$tmp/home "$coffer" -q -r "$tmp/repo" --host-key "$tmp/host.key" export latest \
            "$tmp/snap.coffer" >/dev/null 2>&1; then
            mkdir -p "$out/archive_fuzz"
            head -c -32 "$tmp/snap.coffer" >"$out/archive_fuzz/cli_export"
        fi
        if [[ -n $pub ]]; then
            mkdir -p "$out/registry_fuzz"
            { printf '\x00\x40'; head -c 256 "$pub"; cat "$pub"; } >"$out/registry_fuzz/cli_pub"
        fi
        echo "make_corpus.sh: added seeds from a repository made by $coffer"
    else
        echo "make_corpus.sh: $coffer init/backup failed; skipped the repository seeds" >&2
    fi
fi

echo "make_corpus.sh: $(find "$out" -type f -not -name '*.dict' | wc -l) seeds in $out"
