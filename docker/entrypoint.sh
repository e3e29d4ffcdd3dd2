#!/bin/sh
# Entry point of both images (docker/coordinator.Dockerfile, docker/client.Dockerfile), and what the
# end-to-end tests run to start a coordinator (tests/e2e/test_e2e_operations.py), so it is tested.
#
#   entrypoint.sh coordinator [serve flags]   init DATA_DIR on first start (keys born in the volume,
#                                             never in the image), then `cleanroom coordinator serve`
#   entrypoint.sh invite PARTY...             one enrolment token per party -> $CLEANROOM_EXCHANGE/PARTY.json
#   entrypoint.sh party NAME PARTNER propose|approve
#                                             enrol by token, make demo data, agree, map (docker/compose.yaml)
#   entrypoint.sh healthcheck                 coordinator: GET /readyz on its loopback HTTP port
#   entrypoint.sh client-healthcheck          client: its profile's certificate is there and valid
#   entrypoint.sh client ARGS... | cleanroom ARGS...
#
# A command line ending in --help prints the help of every command that role runs, and runs nothing.
set -eu

DATA_DIR="${CLEANROOM_DATA_DIR:-/data}"
EXCHANGE="${CLEANROOM_EXCHANGE:-/exchange}"
PROFILE="${CLEANROOM_PROFILE:-/profile}"
COORDINATOR="${CLEANROOM_COORDINATOR:-coordinator:50051}"
ENROLMENT="${CLEANROOM_ENROLMENT:-coordinator:50052}" # the enrolment port: server TLS only, tokens

wants_help() {
    for arg in "$@"; do
        case "$arg" in -h | --help) return 0 ;; esac
    done
    return 1
}

# Wait for a file another container writes (a token, an agreement id); no timer, the caller's restart policy bounds it.
wait_for() {
    while [ ! -s "$1" ]; do sleep 1; done
}

json_field() { # FILE KEY: one string field of a JSON object
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

coordinator() {
    if wants_help "$@"; then
        cleanroom coordinator init --help
        exec cleanroom coordinator serve --help
    fi
    if [ ! -f "$DATA_DIR/config.json" ]; then
        # The server certificate names loopback and, when set, the host name other containers dial.
        cleanroom coordinator init --data-dir "$DATA_DIR" --listen "${CLEANROOM_GRPC_LISTEN:-0.0.0.0:50051}" \
            --host localhost --host 127.0.0.1 --host ::1 --host "${CLEANROOM_SERVER_HOST:-localhost}"
    fi
    exec cleanroom coordinator serve --data-dir "$DATA_DIR" "$@"
}

invite() {
    if wants_help "$@"; then
        exec cleanroom coordinator invite --help
    fi
    mkdir -p "$EXCHANGE"
    for party in "$@"; do
        if [ ! -s "$EXCHANGE/$party.json" ]; then
            cleanroom coordinator invite "$party" --data-dir "$DATA_DIR" --json >"$EXCHANGE/$party.json.tmp"
            mv "$EXCHANGE/$party.json.tmp" "$EXCHANGE/$party.json"
        fi
    done
}

party() {
    if wants_help "$@"; then
        cleanroom-client enroll --help
        cleanroom-client synth --help
        cleanroom-client agreement propose --help
        cleanroom-client agreement approve --help
        exec cleanroom-client map --help
    fi
    name="$1" partner="$2" step="$3"
    if [ ! -f "$PROFILE/profile.json" ]; then
        wait_for "$EXCHANGE/$name.json"
        cleanroom-client enroll "$ENROLMENT" --address "$COORDINATOR" --profile "$PROFILE" \
            --token "$(json_field "$EXCHANGE/$name.json" token)" \
            --ca-fingerprint "$(json_field "$EXCHANGE/$name.json" ca_fingerprint)"
    fi
    touch "$EXCHANGE/$name.enrolled"
    data="$PROFILE/demo-data"
    cleanroom-client synth --out "$data" --vendor-accounts 3000 --partner-accounts 2500 --overlap 900 --seed 7 >/dev/null
    if [ "$step" = propose ]; then
        file="$data/vendor_salesforce_accounts.csv"
        wait_for "$EXCHANGE/$partner.enrolled"
        if [ ! -s "$EXCHANGE/agreement.id" ]; then
            cleanroom-client --profile "$PROFILE" agreement propose --with "$partner" \
                --populations customer,prospect,opportunity --json >"$EXCHANGE/agreement.json"
            json_field "$EXCHANGE/agreement.json" agreement_id >"$EXCHANGE/agreement.id"
        fi
    else
        file="$data/partner_hubspot_companies.csv"
        wait_for "$EXCHANGE/agreement.id"
        cleanroom-client --profile "$PROFILE" agreement approve "$(cat "$EXCHANGE/agreement.id")"
    fi
    exec cleanroom-client --profile "$PROFILE" map "$(cat "$EXCHANGE/agreement.id")" "$file" --wait 600
}

role="${1:-coordinator}"
[ $# -gt 0 ] && shift
case "$role" in
coordinator) coordinator "$@" ;;
invite) invite "$@" ;;
party) party "$@" ;;
healthcheck)
    exec python3 -c 'import sys, urllib.request
url = "http://127.0.0.1:%s/readyz" % sys.argv[1]
try:
    sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)
except Exception as exc:
    print(f"not ready: {exc}", file=sys.stderr)
    sys.exit(1)' "${CLEANROOM_HEALTH_PORT:-8080}"
    ;;
client-healthcheck)
    exec python3 -c 'import datetime, pathlib, sys
from cryptography import x509
pem = pathlib.Path(sys.argv[1]) / "party.pem"
if not pem.is_file():
    sys.exit(f"no certificate in {pem.parent}: not enrolled yet")
left = x509.load_pem_x509_certificate(pem.read_bytes()).not_valid_after_utc - datetime.datetime.now(datetime.UTC)
sys.exit(0 if left.total_seconds() > 0 else f"the certificate in {pem} expired")' "$PROFILE"
    ;;
client) exec cleanroom-client "$@" ;;
cleanroom) exec cleanroom "$@" ;;
*)
    echo "entrypoint: unknown role '$role' (coordinator, invite, party, healthcheck, client-healthcheck, client, cleanroom)" >&2
    exit 2
    ;;
esac
