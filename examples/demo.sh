#!/usr/bin/env bash
# make demo: the main job on the bundled default. With the bundled German->English
# model (models/de-en) it translates a few sentences and draws the
# cross-attention alignment of the first one; without it, it shows the toy
# self-attention heatmap of examples/attention_demo.c.
set -eu
BUILD=${1:-build}
"$BUILD/tfm" info
echo
if [ -f models/de-en/config.json ]; then
  "$BUILD/tfm" translate models/de-en --beam 4 \
    "Das Haus ist klein." "Der Hund ist im Garten." "Wo ist der Bahnhof?" \
    "Das Buch liegt auf dem Tisch." "Die Kinder spielen im Park."
  echo
  "$BUILD/tfm" translate models/de-en --attention "$BUILD/attention.svg" "Das Haus ist klein."
  echo "(alignment heatmap written to $BUILD/attention.svg)"
else
  echo "(models/de-en is not present: showing the toy attention demo instead)"
  "$BUILD/examples/attention_demo"
fi
