#!/bin/bash
# Download a big list in N shards on N machines with GNU parallel over ssh.
#
#   examples/parallel.sh dois.txt /shared/pdfs host1 host2 host3 host4
#
# Every host must see INPUT and OUTPUT_DIR at the same paths (a shared filesystem), and
# have papers installed. Shard k runs on the k-th host; a re-run resumes every shard.
set -euo pipefail
input=${1:?usage: parallel.sh INPUT OUTPUT_DIR HOST...}
out=${2:?usage: parallel.sh INPUT OUTPUT_DIR HOST...}
shift 2
hosts=("$@")
n=${#hosts[@]}
sshlogins=$(printf '1/%s,' "${hosts[@]}")

seq 0 $((n - 1)) | parallel --sshlogin "${sshlogins%,}" --line-buffer --tag \
    papers download -i "$input" -o "$out" --shard "{}/$n" --rate-limit 8 --max-per-host 8 -q

papers status -o "$out"
