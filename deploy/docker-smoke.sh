#!/usr/bin/env bash
# Build the image, run it as production would (read-only root, /tmp on a tmpfs), send the README's
# first request, wait for Docker's health status, stop it, and print what each step took.
# Needs a Docker engine; nothing in CI runs this (tests/deploy/test_image_command.py runs the image's
# command without one).
#
#   bash deploy/docker-smoke.sh            # VARIANT=cuda (the default image)
#   VARIANT=cpu bash deploy/docker-smoke.sh
#   BUILD=0 IMAGE=mms:cpu bash deploy/docker-smoke.sh    # an image already built
#
# Exit status 0 only if the build, the answer ("7"), the health status and the stop all pass and
# the container's log holds no ERROR line and no traceback.
set -euo pipefail

VARIANT=${VARIANT:-cuda}
IMAGE=${IMAGE:-mms:$VARIANT}
BUILD=${BUILD:-1}
PORT=${PORT:-8000}
NAME=${NAME:-mms-smoke-$$}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-120}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAMPLES="$ROOT/tests/data/digits"

log() { printf '%s %s\n' "$(date +%T)" "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
since() { local ms=$(($(now_ms) - $1)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }
fail() {
    log "FAIL: $*"
    docker logs "$NAME" 2>&1 | tail -40 || true
    exit 1
}
cleanup() { docker rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

if [ "$BUILD" = 1 ]; then
    log "building $IMAGE (VARIANT=$VARIANT)"
    started=$(now_ms)
    docker build --build-arg "VARIANT=$VARIANT" -t "$IMAGE" "$ROOT"
    log "built in $(since "$started")"
fi
log "image $IMAGE: $(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1 / 1e9}')"

# What a Kubernetes pod with readOnlyRootFilesystem and an emptyDir on /tmp gets.
docker run -d --name "$NAME" --read-only --tmpfs /tmp -p "127.0.0.1:$PORT:8000" "$IMAGE" >/dev/null
started=$(now_ms)
until [ "$(curl -s -o /dev/null -w '%{http_code}' "localhost:$PORT/readyz")" = 200 ]; do
    [ "$(docker inspect --format '{{.State.Running}}' "$NAME")" = true ] || fail "container exited"
    (($(now_ms) - started < READY_TIMEOUT_S * 1000)) || fail "not ready in $READY_TIMEOUT_S s"
    sleep 0.2
done
log "ready $(since "$started") after docker run"

answer=$(curl -s -F "image=@$SAMPLES/image_7_0.png" -F "audio=@$SAMPLES/audio_7_0.wav" \
    -F text="seven" "localhost:$PORT/predict?top_k=3")
log "predict: $answer"
# The first label is the top answer of the one output, digit.
first=$(grep -o '"label": *"[^"]*"' <<<"$answer" | head -1)
[[ $first =~ \"7\"$ ]] || fail "the answer is not 7"

# Docker's own health status: the image's HEALTHCHECK (every 10 s) must have passed once.
for _ in $(seq 30); do
    health=$(docker inspect --format '{{.State.Health.Status}}' "$NAME")
    [ "$health" = healthy ] && break
    sleep 1
done
[ "$health" = healthy ] || fail "health status $health"
log "health: $health"

started=$(now_ms)
docker stop -t 45 "$NAME" >/dev/null
code=$(docker inspect --format '{{.State.ExitCode}}' "$NAME")
log "stopped in $(since "$started"), exit status $code"
[ "$code" = 0 ] || fail "exit status $code"

if docker logs "$NAME" 2>&1 | grep -E '"level": "(ERROR|CRITICAL)"|Traceback'; then
    fail "ERROR lines or a traceback in the log"
fi
log "OK: $IMAGE builds, answers, turns healthy and stops cleanly, with no ERROR in its log"
