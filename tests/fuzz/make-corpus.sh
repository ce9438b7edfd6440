#!/usr/bin/env bash
# Builds the seed corpus of every fuzz target, one folder per target under OUT-DIR.
#
#   bash tests/fuzz/make-corpus.sh OUT-DIR [BUILD-DIR]
#
# Seeds come from the repository's fixtures (tests/data/), from small inputs written here, and from
# the third-party payloads in ../shared/conformance beside the checkout when that folder exists
# (skipped otherwise; nothing of it is copied into the repository). With BUILD-DIR (the fuzz build),
# fuzz_sandbox_state also writes a saved state of a small simulated world as a seed.
# Every file is a complete input for its target; the framing of targets that split their input
# (a choice byte, length-prefixed pieces) is described at the top of each fuzz_*.cpp.
set -euo pipefail
# Lengths below are byte counts (${#text} counts characters in a UTF-8 locale).
export LC_ALL=C

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$1"
build="${2:-}"
conformance="$repo/../shared/conformance"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

targets=(fuzz_webhook_parser fuzz_signature fuzz_codecs fuzz_retry_after fuzz_jpeg fuzz_ticket_json
         fuzz_sandbox_state fuzz_cli_json_writer)
for t in "${targets[@]}"; do mkdir -p "$out/$t"; done

# seed TARGET: stdin becomes a seed file of TARGET, named by its SHA-1 as libFuzzer names inputs
# (seeds are often written from inside a pipeline, where no counter would survive).
seed() {
  local tmp="$out/$1/.incoming"
  cat >"$tmp"
  mv "$tmp" "$out/$1/$(sha1sum "$tmp" | cut -c1-40)"
}
# byte N: one raw byte (0-255).
byte() { printf "\\$(printf '%03o' "$1")"; }
# piece TEXT: TEXT with its length as one byte before it (at most 255 bytes).
piece() {
  local text="$1"
  byte "${#text}"
  printf '%s' "$text"
}

have_conformance=0
if [ -d "$conformance" ]; then
  have_conformance=1
else
  echo "make-corpus: $conformance not found; seeding from the repository only" >&2
fi

# --- fuzz_webhook_parser: whole bodies; a first line of "sha256=<hex>" is read as the header.
webhook_files=()
while IFS= read -r -d '' f; do webhook_files+=("$f"); done < <(find "$repo/tests/data/webhooks" -name '*.json' -print0 | sort -z)
if [ "$have_conformance" = 1 ]; then
  while IFS= read -r -d '' f; do webhook_files+=("$f"); done < <(find "$conformance" -name '*.json' -print0 | sort -z)
fi
for f in "${webhook_files[@]}"; do seed fuzz_webhook_parser <"$f"; done
secret="fuzz-app-secret-0123456789"  # kSecret in fuzz_webhook_parser.cpp
if command -v openssl >/dev/null 2>&1; then
  for f in "$repo/tests/data/webhooks/batch/batched.json" "$repo/tests/data/webhooks/integration/mixed.json"; do
    [ -f "$f" ] || continue
    mac="$(openssl dgst -sha256 -hmac "$secret" <"$f" | sed 's/^.*= *//')"
    { printf 'sha256=%s\n' "$mac"; cat "$f"; } | seed fuzz_webhook_parser
  done
fi
printf '{"object":"whatsapp_business_account","entry":[]}' | seed fuzz_webhook_parser

# --- fuzz_signature: pick byte, secret, header, body.
for f in "$repo/tests/data/webhooks/messages/group_text.json" "$repo/tests/data/webhooks/lifecycle/create_ok.json"; do
  [ -f "$f" ] || continue
  header="sha256=0000000000000000000000000000000000000000000000000000000000000000"
  if command -v openssl >/dev/null 2>&1; then
    header="sha256=$(openssl dgst -sha256 -hmac "app-secret" <"$f" | sed 's/^.*= *//')"
  fi
  { byte 7; piece "app-secret"; piece "$header"; cat "$f"; } | seed fuzz_signature
done
{ byte 0; piece ""; piece "sha256=abc"; printf 'body'; } | seed fuzz_signature
{ byte 1; piece "s"; piece " SHA256=00 "; printf '{}'; } | seed fuzz_signature

# --- fuzz_codecs: decoder byte, status byte, body. Decoders: 0 create_group, 1 list_groups,
# 2 group_info, 3 update_settings, 4 delete_group, 5 invite_link, 6 delete_invite_link,
# 7 join_requests, 8 phone_number, 9 send_message, 10/11 approve/reject result,
# 12 remove_participants, 13 error envelope.
codec() { { byte "$1"; byte "$2"; cat; } | seed fuzz_codecs; }
printf '{"messaging_product":"whatsapp","request_id":"req-1"}' | codec 0 0
printf '{"data":{"groups":[{"id":"g1","subject":"Order"},{"id":120363418770915618}]},"paging":{"cursors":{"before":"b","after":"a"},"next":"https://x/next"}}' | codec 1 0
printf '{"id":"g1","subject":"S","description":"D","suspended":false,"creation_timestamp":"1751210000","total_participant_count":2,"join_approval_mode":"approval_required","participants":[{"wa_id":"15550123001","user_id":"US.1"}]}' | codec 2 0
printf '{"success":true,"request_id":"r"}' | codec 3 0
printf '{"success":true}' | codec 4 0
printf '{"invite_link":"https://chat.whatsapp.com/abc"}' | codec 5 0
printf '{"success":true}' | codec 6 0
printf '{"data":[{"join_request_id":"join-request-1","wa_id":"1555","creation_timestamp":1751210000}],"paging":{"cursors":{"after":"x"}}}' | codec 7 0
printf '{"id":"200000000000002","display_phone_number":"15550100100","verified_name":"Shop","quality_rating":"GREEN","is_official_business_account":true,"throughput":{"level":"STANDARD"}}' | codec 8 0
printf '{"messaging_product":"whatsapp","contacts":[{"input":"g1"}],"messages":[{"id":"wamid.x","message_status":"accepted"}]}' | codec 9 0
printf '{"approved_join_requests":["join-request-1"],"failed_join_requests":[{"join_request_id":"join-request-2","errors":[{"code":131212,"title":"t"}]}]}' | codec 10 3
printf '{"error":{"code":131201,"message":"partial","error_data":{"details":"d"}},"rejected_join_requests":["1234567890"]}' | codec 11 3
printf '{"success":true,"removed_participants":["1555"],"failed_participants":[{"input":"1666","errors":[{"code":131212}]}]}' | codec 12 3
printf '{"error":{"message":"(#131215) not eligible","type":"OAuthException","code":131215,"error_subcode":2494010,"error_data":{"messaging_product":"whatsapp","details":"x"},"is_transient":false,"fbtrace_id":"A"}}' | codec 13 0
printf '<html>Bad gateway</html>' | codec 13 4
if [ "$have_conformance" = 1 ]; then
  for pair in "group-info.json:2" "group-join-requests.json:7" "message-response.json:9" \
              "message-response-group.json:9" "message-response-bsuid.json:9" "message-response-phone-precedence.json:9" \
              "phone-number-full-response.json:8" "phone-number-default-response.json:8" "phone-number-missing-lists.json:8"; do
    f="$conformance/restfb/${pair%%:*}"
    [ -f "$f" ] && codec "${pair##*:}" 0 <"$f"
  done
fi

# --- fuzz_retry_after: 8 bytes of now, 6 bytes of date choice, then the value.
for value in "120" " 0 " "Wed, 21 Oct 2026 07:28:00 GMT" "Sun, 06 Nov 1994 08:49:37 GMT" "0000000120" "1000000000"; do
  { printf '\000\000\000\000\152\151\000\000'; printf '\007\352\011\025\007\034'; printf '%s' "$value"; } | seed fuzz_retry_after
done

# --- fuzz_jpeg: a 192x192 baseline frame header, a progressive 200x100 one, and a non-JPEG.
jpeg() {  # jpeg SOF-MARKER-BYTE H-HI H-LO W-HI W-LO
  printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000'
  printf '\377\376\000\004hi'
  byte 255; byte "$1"; printf '\000\021\010'; byte "$2"; byte "$3"; byte "$4"; byte "$5"
  printf '\003\001\042\000\002\021\001\003\021\001\377\332\000\002\377\331'
}
jpeg 192 0 192 0 192 | seed fuzz_jpeg
jpeg 194 0 100 0 200 | seed fuzz_jpeg
printf '\211PNG\r\n\032\n' | seed fuzz_jpeg

# --- fuzz_ticket_json: stored tickets.
for f in "$repo"/tests/data/tickets/*.json; do [ -f "$f" ] && seed fuzz_ticket_json <"$f"; done
printf '{"v":1}' | seed fuzz_ticket_json

# --- fuzz_sandbox_state: a saved world (from the target itself) and the smallest states.
if [ -n "$build" ] && [ -x "$build/tests/fuzz/fuzz_sandbox_state" ]; then
  state="$out/fuzz_sandbox_state/.world"
  if WAGROUPS_FUZZ_WRITE_SEED="$state" "$build/tests/fuzz/fuzz_sandbox_state" >/dev/null 2>&1; then
    seed fuzz_sandbox_state <"$state"
  else
    echo "make-corpus: fuzz_sandbox_state could not write its seed state" >&2
  fi
  rm -f "$state"
fi
printf '{"format":"wagroups-sandbox-state","version":2}' | seed fuzz_sandbox_state
printf '{"format":"wagroups-sandbox-state","version":1,"groups":[],"webhooks":[]}' | seed fuzz_sandbox_state

# --- fuzz_cli_json_writer: members of kind (0 string, 1 number, 2 bool, 3 raw, 4 array), key, value.
{ byte 0; piece "subject"; piece "Order #1042 \"rush\""; byte 1; piece "timestamp"; printf '\000\000\000\000\150\125\037\020'
  byte 2; piece "ok"; byte 1; byte 3; piece "raw"; piece '{"a":[1,2,{"b":"c"}],"d":null}'
  byte 4; piece "ids"; piece "US.1001"; piece "15550123001"; } | seed fuzz_cli_json_writer
{ byte 0; piece $'tab\there'; piece $'line\nbreak \x7f \xc2\x85 \xff end'; byte 3; piece "k"; piece ' [ true , "x\u00e9" ] '; } \
  | seed fuzz_cli_json_writer

for t in "${targets[@]}"; do
  printf 'make-corpus: %-22s %3d seeds\n' "$t" "$(find "$out/$t" -type f | wc -l)"
done
