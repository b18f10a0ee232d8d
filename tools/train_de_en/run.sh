#!/usr/bin/env bash
# Builds the bundled German->English model end to end:
#   tools/train_de_en/run.sh [MINUTES] [WORK_DIR] [OUT_DIR]
# MINUTES (default 65) is the training budget (SentencePiece included); data
# extraction and the held-out scoring take about 12 more minutes on 2 cores. Needs
# Debian's dict-freedict-deu-eng, python3-torch and python3-sentencepiece
# (apt-get install -y dict-freedict-deu-eng python3-torch python3-sentencepiece)
# and a built tfm (make) for the final C-against-PyTorch check.
set -eu
cd "$(dirname "$0")/../.."
minutes=${1:-65}
work=${2:-build/de-en-work}
out=${3:-models/de-en}
PY=/usr/bin/python3
$PY tools/train_de_en/extract.py "$work"
$PY tools/train_de_en/train.py "$work" "$out" --minutes "$minutes" --threads 2
if [ -x build/tfm ]; then
  $PY tools/train_de_en/check_c.py build/tfm "$out"
fi
