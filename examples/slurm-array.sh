#!/bin/bash
# Download a big list in 16 shards as a Slurm job array: one task per shard, each
# with its own state file in the shared output directory.
#
#   sbatch examples/slurm-array.sh dois.txt /shared/pdfs
#
# --shard auto reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT. --rate-limit and
# --max-per-host are the whole array's budget per host, split evenly over the 16 tasks.
#SBATCH --job-name=papers
#SBATCH --array=0-15
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=24:00:00
#SBATCH --output=papers-%A_%a.log
#SBATCH --requeue
set -euo pipefail
input=${1:?usage: sbatch slurm-array.sh INPUT OUTPUT_DIR}
out=${2:?usage: sbatch slurm-array.sh INPUT OUTPUT_DIR}

# A requeued or re-submitted task resumes from its state file.
srun papers download -i "$input" -o "$out" --shard auto --rate-limit 8 --max-per-host 8 -q

# When every task is done:
#   papers status -o /shared/pdfs
#   papers merge-state /shared/pdfs/.papers-state.json /shared/pdfs/.papers-state.*-of-16.json
